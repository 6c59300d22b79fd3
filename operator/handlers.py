"""Kopf handlers: thin triggers over one level-based reconciliation (parse, plan, apply).

Every trigger (create, resume, update, a timer, an event of an owned Job) runs the same
:meth:`Reconciler.reconcile`, which reads the experiment fresh from the API, lists what it owns,
asks the pure planner what to do, and applies that: create the missing Jobs (a 409 means one is
already there), suspend/resume/delete, patch ``.status``, post the plan's events. Nothing depends on
having seen a particular event, so a restart or a missed event loses nothing and duplicates nothing.

Concurrency: Kopf serialises the create/update/resume handlers of one object, but timers and the
Job-event handler run beside them. A per-experiment lock serialises all of them; a trigger that
finds another one already waiting for the lock is dropped (the waiting one will read fresh state).

Deletion (:func:`delete_artifacts`, an ``on.delete`` handler behind Kopf's finalizer): with
``runPolicy.deleteArtifacts`` it stops the stage Jobs, runs the cleanup Job and keeps the finalizer
until that Job has ended; otherwise it only says where the artifacts stay. It never blocks forever:
a failed cleanup, an unreadable spec or a refused Job let the deletion go on with a Warning event.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import kopf
from ensemw2s.spec import (
    API_GROUP,
    API_VERSION,
    KIND,
    PLURAL,
    ExperimentManifest,
    Problem,
    SpecError,
    Stage,
    Target,
    parse_manifest,
    problem,
    validate_spec,
)

from .errors import PermanentError, TemporaryError
from .jobs import (
    Owner,
    artifacts_location,
    build_cleanup_job,
    build_rendezvous_service,
    build_stage_job,
    owner_from_body,
)
from .k8s import ClusterApi, JsonObject, load_client_configuration, status_patch
from .metrics import OperatorMetrics
from .naming import ANNOTATION_EXPERIMENT_UID, LABEL_MANAGED_BY, MANAGER
from .observe import JobPhase, ObservedJob, failure_reason, observe_jobs, pods_of_job
from .plan import EventSpec, Plan, plan_reconcile, plan_rejected
from .settings import KOPF_PREFIX, OperatorConfig
from .status_model import Phase

logger = logging.getLogger(__name__)

RESOURCE = (API_GROUP, API_VERSION, PLURAL)
FINISHED_PHASES = frozenset({Phase.SUCCEEDED.value, Phase.FAILED.value, Phase.INVALID.value})
OPERATIONAL_ANNOTATIONS = (f"{KOPF_PREFIX}/", "kopf.zalando.org/", "kubectl.kubernetes.io/")
"""Annotations that are bookkeeping, not the user's: left out of the manifest the Jobs receive."""
LOG_TAIL_LINES = 20
SPEC_WARNING = "SpecWarning"
CLEANUP_POLL = 2.0
"""Seconds before the first re-check of a deletion waiting for Jobs; x1.5 per retry up to CLEANUP_POLL_MAX."""
CLEANUP_POLL_MAX = 15.0
CLEANUP_TIMEOUT = 1800.0
"""Kopf gives the deletion handler up (and releases the finalizer) after 30 minutes of retries."""
ARTIFACTS_KEPT = "ArtifactsKept"
DELETING_ARTIFACTS = "DeletingArtifacts"
ARTIFACTS_DELETED = "ArtifactsDeleted"
CLEANUP_FAILED = "ArtifactCleanupFailed"

R = TypeVar("R")
EventSink = Callable[[Mapping[str, Any], EventSpec], None]


def utcnow() -> datetime:
    return datetime.now(UTC)


def post_event(body: Mapping[str, Any], event: EventSpec) -> None:
    """Queue a Kubernetes Event on the experiment (Kopf posts it in the background, with retries)."""
    raw = cast(kopf.RawBody, dict(body))
    kopf.event(kopf.Body(raw), type=event.type, reason=event.reason, message=event.message)


def manifest_from_body(body: Mapping[str, Any]) -> ExperimentManifest:
    """The typed manifest of a custom resource as the API returns it (server-set metadata dropped)."""
    meta: Mapping[str, Any] = body.get("metadata") or {}
    annotations = {
        key: value
        for key, value in (meta.get("annotations") or {}).items()
        if not key.startswith(OPERATIONAL_ANNOTATIONS)
    }
    return parse_manifest(
        {
            "apiVersion": body.get("apiVersion"),
            "kind": body.get("kind"),
            "metadata": {
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "labels": dict(meta.get("labels") or {}),
                "annotations": annotations,
            },
            "spec": body.get("spec"),
        },
        source=f"{KIND} {meta.get('namespace')}/{meta.get('name')}",
    )


def is_finished(body: Mapping[str, Any]) -> bool:
    """Nothing left to watch: a final phase for the current generation and no active stage."""
    status: Mapping[str, Any] = body.get("status") or {}
    generation = (body.get("metadata") or {}).get("generation")
    active = int((status.get("stageCounts") or {}).get("active") or 0)
    return status.get("phase") in FINISHED_PHASES and status.get("observedGeneration") == generation and active == 0


def mean_pgrs(status: Mapping[str, Any]) -> dict[str, float | None]:
    """``status.results.meanPgr`` as ``{"ensemw2s_vs_weak": 0.41, ...}`` (snake_case baselines)."""
    results = status.get("results") or {}
    raw = results.get("meanPgr") or results.get("mean_pgr") or {}
    out: dict[str, float | None] = {}
    for key, value in raw.items():
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in str(key))
        out[snake] = float(value) if isinstance(value, int | float) else None
    return out


@dataclass(frozen=True)
class Outcome:
    result: str
    plan: Plan | None = None


class Reconciler:
    """Reads, plans and applies, one experiment at a time; the only writer of an experiment's status."""

    def __init__(
        self,
        api: ClusterApi,
        metrics: OperatorMetrics,
        *,
        emit: EventSink = post_event,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.api = api
        self.metrics = metrics
        self._emit = emit
        self._clock = clock
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._waiting: set[tuple[str, str]] = set()

    def forget(self, namespace: str, name: str) -> None:
        """The experiment is gone: drop its lock and its metric series."""
        self._locks.pop((namespace, name), None)
        self.metrics.forget_experiment(namespace, name)

    async def reconcile(self, namespace: str, name: str, *, coalesce: bool = False) -> Outcome | None:
        """Reconcile one experiment; with ``coalesce``, return None when another trigger already waits."""
        key = (namespace, name)
        if coalesce and key in self._waiting:
            return None
        self._waiting.add(key)
        try:
            lock = self._locks.setdefault(key, asyncio.Lock())
            async with lock:
                self._waiting.discard(key)
                return await self._measured(namespace, name)
        finally:
            self._waiting.discard(key)

    async def _measured(self, namespace: str, name: str) -> Outcome:
        started = time.perf_counter()
        result = "error"
        try:
            outcome = await self._reconcile(namespace, name)
            result = outcome.result
            return outcome
        finally:
            self.metrics.observe_reconcile(result, time.perf_counter() - started)

    async def _reconcile(self, namespace: str, name: str) -> Outcome:
        body = await self.api.get_experiment(namespace, name)
        if body is None or (body.get("metadata") or {}).get("deletionTimestamp"):
            self.forget(namespace, name)
            return Outcome("gone")
        meta = body.get("metadata") or {}
        generation = meta.get("generation")
        previous: Mapping[str, Any] = body.get("status") or {}
        try:
            manifest = manifest_from_body(body)
            warnings = validate_spec(manifest.spec, Target.CLUSTER)
        except SpecError as exc:
            return await self._reject(body, exc.problems)
        if previous.get("observedGeneration") != generation:
            for warning in warnings:
                self._emit(body, EventSpec(SPEC_WARNING, str(warning), "Warning"))
        jobs = await self.api.list_jobs(namespace, name, owner_uid=str(meta.get("uid") or "") or None)
        pods = await self.api.list_pods(namespace, name)
        observed = await self._with_log_tails(namespace, observe_jobs(jobs, pods), jobs, pods)
        plan = plan_reconcile(manifest, observed, previous, generation, self._clock())
        try:
            await self._apply_objects(body, manifest, plan)
        except PermanentError as exc:
            # The API server refused an object built from the spec (admission policy, invalid field).
            return await self._reject(body, [problem(f"{KIND} {namespace}/{name}", str(exc))])
        await self._write_status(body, plan)
        self._count_retries(observed, jobs, pods, previous)
        return Outcome("ok", plan)

    async def _reject(self, body: JsonObject, problems: Sequence[Problem]) -> Outcome:
        meta = body.get("metadata") or {}
        plan = plan_rejected(list(problems), meta.get("generation"), body.get("status") or {}, self._clock())
        await self._write_status(body, plan)
        return Outcome("rejected", plan)

    async def _with_log_tails(
        self, namespace: str, observed: list[ObservedJob], jobs: Sequence[JsonObject], pods: Sequence[JsonObject]
    ) -> list[ObservedJob]:
        """A failed stage without a log tail in its termination message gets the newest failed pod's log."""
        by_name = {str((job.get("metadata") or {}).get("name")): job for job in jobs}
        out = []
        for item in observed:
            if item.phase is JobPhase.FAILED and item.log_tail is None and item.name in by_name:
                pod = _newest_failed_pod(pods_of_job(by_name[item.name], pods))
                if pod is not None:
                    tail = await self.api.read_log_tail(namespace, pod, LOG_TAIL_LINES)
                    if tail and tail.strip():
                        item = dataclasses.replace(item, log_tail=tail.strip())
            out.append(item)
        return out

    async def _apply_objects(self, body: JsonObject, manifest: ExperimentManifest, plan: Plan) -> None:
        namespace = manifest.namespace
        if plan.create:
            owner = owner_from_body(body)
            for stage in plan.create:
                await self._create_stage(manifest, stage, owner)
        for job in plan.suspend:
            await self.api.patch_job_suspend(namespace, job, True)
        for job in plan.resume:
            await self.api.patch_job_suspend(namespace, job, False)
        for job in plan.delete:
            await self.api.delete_if_exists("Job", namespace, job)

    async def _create_stage(self, manifest: ExperimentManifest, stage: Stage, owner: Owner) -> None:
        service = build_rendezvous_service(manifest, stage, owner)
        if service is not None:
            await self.api.create_or_get(service)
        job, created = await self.api.create_or_get(build_stage_job(manifest, stage, owner))
        if not created:
            logger.debug("Job %s/%s already exists", manifest.namespace, (job.get("metadata") or {}).get("name"))

    async def _write_status(self, body: JsonObject, plan: Plan) -> None:
        meta = body.get("metadata") or {}
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        previous: Mapping[str, Any] = body.get("status") or {}
        patch = status_patch(previous, plan.status)
        if patch and await self.api.patch_status(namespace, name, patch) is None:
            self.forget(namespace, name)
            return
        for event in plan.events:
            logger.info(
                "%s/%s: %s: %s", namespace, name, event.reason, event.message.splitlines()[0] if event.message else ""
            )
            self._emit(body, event)
        self._record_metrics(namespace, name, previous, plan.status)

    def _record_metrics(
        self, namespace: str, name: str, previous: Mapping[str, Any], status: Mapping[str, Any]
    ) -> None:
        self.metrics.set_experiment(namespace, name, str(status.get("phase") or Phase.PENDING.value), mean_pgrs(status))
        details = {entry.get("name"): entry for entry in status.get("stages") or []}
        for key in ("succeededStages", "failedStages"):
            for stage_name in set(status.get(key) or []) - set(previous.get(key) or []):
                entry = details.get(stage_name) or {}
                seconds = _stage_seconds(entry)
                if seconds is not None:
                    self.metrics.observe_stage(_stage_kind(stage_name), seconds)

    def _count_retries(
        self,
        observed: Sequence[ObservedJob],
        jobs: Sequence[JsonObject],
        pods: Sequence[JsonObject],
        previous: Mapping[str, Any],
    ) -> None:
        """Pod retries since the last status: attempts beyond the ones already recorded, by failure reason."""
        before = {entry.get("job"): int(entry.get("attempts") or 0) for entry in previous.get("stages") or []}
        by_name = {str((job.get("metadata") or {}).get("name")): job for job in jobs}
        for item in observed:
            retried = item.attempts - max(1, before.get(item.name, 1))
            if retried > 0 and item.name in by_name:
                job = by_name[item.name]
                self.metrics.count_retries(failure_reason(job, pods_of_job(job, pods)) or "Unknown", retried)


def _newest_failed_pod(pods: Sequence[Mapping[str, Any]]) -> str | None:
    failed = [p for p in pods if (p.get("status") or {}).get("phase") == "Failed"] or list(pods)
    if not failed:
        return None
    newest = max(failed, key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp") or ""))
    return str((newest.get("metadata") or {}).get("name"))


def _stage_kind(stage_name: str) -> str:
    try:
        return str(Stage.parse(stage_name).kind.value)
    except ValueError:
        return "unknown"


def _stage_seconds(entry: Mapping[str, Any]) -> float | None:
    summary = entry.get("summary") or {}
    if isinstance(summary.get("seconds"), int | float):
        return float(summary["seconds"])
    start, end = entry.get("startTime"), entry.get("completionTime")
    if start and end:
        try:
            begin = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
            finish = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
        except ValueError:
            return None
        return (finish - begin).total_seconds()
    return None


def cleanup_delay(retry: int) -> float:
    """Seconds until a waiting deletion looks again: quick at first, then every CLEANUP_POLL_MAX seconds."""
    return float(min(CLEANUP_POLL_MAX, CLEANUP_POLL * 1.5 ** min(max(retry, 0), 20)))


def job_outcome(job: Mapping[str, Any]) -> JobPhase | None:
    """SUCCEEDED or FAILED from a Job's conditions; None while it has not ended."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") in ("Complete", "SuccessCriteriaMet"):
            return JobPhase.SUCCEEDED
        if condition.get("type") in ("Failed", "FailureTarget"):
            return JobPhase.FAILED
    return None


async def delete_artifacts(
    api: ClusterApi, body: Mapping[str, Any], *, emit: EventSink = post_event, retry: int = 0
) -> None:
    """The experiment is being deleted: with ``runPolicy.deleteArtifacts``, delete its artifacts first.

    Returns when the deletion may go on (Kopf then removes the finalizer); raises TemporaryError while
    it must wait (stage Jobs still stopping, the cleanup Job still running). Level-based: every call
    looks at what exists, so a restart or a repeated call changes nothing.
    """
    meta: Mapping[str, Any] = body.get("metadata") or {}
    where = f"{meta.get('namespace')}/{meta.get('name')}"
    try:
        manifest = manifest_from_body(body)
    except SpecError as exc:
        message = f"artifacts kept: the spec cannot be read ({str(exc).splitlines()[0]})"
        logger.warning("%s: %s", where, message)
        emit(body, EventSpec(ARTIFACTS_KEPT, message, "Warning"))
        return
    location = artifacts_location(manifest)
    if not manifest.spec.run_policy.delete_artifacts:
        message = f"artifacts kept in {location} (spec.runPolicy.deleteArtifacts is false)"
        logger.info("%s: %s", where, message)
        emit(body, EventSpec(ARTIFACTS_KEPT, message))
        return
    owner = owner_from_body(body)
    try:
        cleanup_job = build_cleanup_job(manifest, owner)
    except PermanentError as exc:
        _cleanup_failed(emit, body, where, f"no cleanup Job: {exc}; artifacts kept in {location}")
        return
    delay = cleanup_delay(retry)
    stopping = await _stop_stage_jobs(api, owner)
    if stopping:
        raise TemporaryError(
            f"{where}: waiting for {len(stopping)} stage Job(s) to stop before deleting {location} "
            f"(got {', '.join(stopping[:3])}{', ...' if len(stopping) > 3 else ''}); retrying",
            delay,
        )
    try:
        job, created = await api.create_or_get(cleanup_job)
    except PermanentError as exc:
        _cleanup_failed(emit, body, where, f"the cleanup Job was refused: {exc}; artifacts kept in {location}")
        return
    job_meta: Mapping[str, Any] = job.get("metadata") or {}
    job_name = str(job_meta.get("name"))
    if created:
        message = f"Job {job_name} deletes the artifacts in {location}"
        logger.info("%s: %s", where, message)
        emit(body, EventSpec(DELETING_ARTIFACTS, message))
    elif (job_meta.get("annotations") or {}).get(ANNOTATION_EXPERIMENT_UID) != owner.uid:
        await _replace_stale_cleanup(api, body, job, where, location, emit, delay)
        return
    outcome = job_outcome(job)
    if outcome is JobPhase.SUCCEEDED:
        message = f"Job {job_name} deleted the artifacts in {location}"
        logger.info("%s: %s", where, message)
        emit(body, EventSpec(ARTIFACTS_DELETED, message))
        return
    if outcome is JobPhase.FAILED:
        pods = pods_of_job(job, await api.list_pods(owner.namespace, owner.name))
        reason = failure_reason(job, pods) or "Failed"
        _cleanup_failed(
            emit,
            body,
            where,
            f"Job {job_name} failed ({reason}): artifacts may remain in {location}; "
            f"see kubectl logs job/{job_name} -n {owner.namespace}, then delete them by hand",
        )
        return
    raise TemporaryError(f"{where}: waiting for Job {job_name} to delete {location}; retrying", delay)


async def _stop_stage_jobs(api: ClusterApi, owner: Owner) -> list[str]:
    """Delete the experiment's stage Jobs (Foreground: each stays until its pods are gone), so that no
    running stage writes after the cleanup; the names of those still there."""
    jobs = await api.list_jobs(owner.namespace, owner.name, owner_uid=owner.uid)
    if not jobs:
        return []
    for job in jobs:
        meta = job.get("metadata") or {}
        if not meta.get("deletionTimestamp"):
            await api.delete_if_exists("Job", owner.namespace, str(meta.get("name")), propagation="Foreground")
    remaining = await api.list_jobs(owner.namespace, owner.name, owner_uid=owner.uid)
    return sorted(str((job.get("metadata") or {}).get("name")) for job in remaining)


async def _replace_stale_cleanup(
    api: ClusterApi,
    body: Mapping[str, Any],
    job: Mapping[str, Any],
    where: str,
    location: str,
    emit: EventSink,
    delay: float,
) -> None:
    """A Job with the cleanup Job's name that is not this experiment's (an earlier experiment of the same
    name, within its TTL): wait for it to end, delete it, and let the next call create ours. A Job the
    operator did not create is left alone, and the artifacts kept."""
    meta: Mapping[str, Any] = job.get("metadata") or {}
    name, namespace = str(meta.get("name")), str(meta.get("namespace"))
    if (meta.get("labels") or {}).get(LABEL_MANAGED_BY) != MANAGER:
        _cleanup_failed(
            emit, body, where, f"Job {name} exists and was not created by the operator; artifacts kept in {location}"
        )
        return
    if job_outcome(job) is None:
        raise TemporaryError(
            f"{where}: waiting for Job {name} (of an earlier experiment of the same name) to end; retrying", delay
        )
    await api.delete_if_exists("Job", namespace, name)
    raise TemporaryError(f"{where}: deleted the earlier experiment's finished Job {name}; retrying", 1.0)


def _cleanup_failed(emit: EventSink, body: Mapping[str, Any], where: str, message: str) -> None:
    logger.warning("%s: %s: %s", where, CLEANUP_FAILED, message)
    emit(body, EventSpec(CLEANUP_FAILED, message, "Warning"))


async def as_kopf_errors(awaitable: Awaitable[R]) -> R:
    """Map the operator's errors to Kopf's: temporary ones retry after their delay, permanent ones stop."""
    try:
        return await awaitable
    except TemporaryError as exc:
        raise kopf.TemporaryError(str(exc), delay=exc.delay) from exc
    except PermanentError as exc:
        raise kopf.PermanentError(str(exc)) from exc


def owner_experiment(job: Mapping[str, Any]) -> str | None:
    """The experiment that controls a Job (from its ownerReferences, exact even for hashed labels)."""
    for ref in (job.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == KIND and str(ref.get("apiVersion", "")).startswith(f"{API_GROUP}/"):
            return str(ref.get("name"))
    return None


def register(registry: kopf.OperatorRegistry, config: OperatorConfig, reconciler: Reconciler) -> None:
    """Register every handler of the operator in ``registry``."""

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection_info(load_client_configuration(config.kubeconfig, config.context))

    @kopf.on.create(*RESOURCE, registry=registry, id="reconcile")
    @kopf.on.resume(*RESOURCE, registry=registry, id="reconcile")
    @kopf.on.update(*RESOURCE, registry=registry, id="reconcile")
    async def reconcile_on_change(*, namespace: str | None, name: str, **_: Any) -> None:
        await as_kopf_errors(reconciler.reconcile(str(namespace), name))

    @kopf.timer(*RESOURCE, registry=registry, id="resync", interval=config.reconcile_interval)
    async def reconcile_periodically(*, namespace: str | None, name: str, body: kopf.Body, **_: Any) -> None:
        if not is_finished(body):
            await as_kopf_errors(reconciler.reconcile(str(namespace), name, coalesce=True))

    @kopf.on.event("batch", "v1", "jobs", registry=registry, labels={LABEL_MANAGED_BY: MANAGER})
    async def reconcile_on_job_event(*, type: str | None, namespace: str | None, body: kopf.Body, **_: Any) -> None:
        experiment = owner_experiment(body)
        if experiment is None or type is None:
            return  # a listing (start-up, re-watch) is no change: resume handlers and the timer cover it
        if type != "DELETED" and not body.get("status"):
            return  # a Job we just created (no status yet) changes nothing
        try:
            await reconciler.reconcile(str(namespace), experiment, coalesce=True)
        except (TemporaryError, PermanentError) as exc:
            logger.warning("%s (the periodic reconciliation will retry)", exc)

    @kopf.on.delete(*RESOURCE, registry=registry, id="delete-artifacts", timeout=CLEANUP_TIMEOUT)
    async def delete_artifacts_on_delete(*, body: kopf.Body, retry: int, **_: Any) -> None:
        await as_kopf_errors(delete_artifacts(reconciler.api, body, retry=retry))

    @kopf.on.event(*RESOURCE, registry=registry)
    def forget_deleted(*, type: str | None, namespace: str | None, name: str, **_: Any) -> None:
        if type == "DELETED":
            reconciler.forget(str(namespace), name)


def connection_info(configuration: Any) -> kopf.ConnectionInfo:
    """Kopf's credentials from the same client configuration the API helper uses."""
    header = configuration.get_api_key_with_prefix("BearerToken") or configuration.get_api_key_with_prefix(
        "authorization"
    )
    parts = header.split(" ", 1) if header else []
    scheme, token = (None, None) if not parts else (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        username=configuration.username or None,
        password=configuration.password or None,
        scheme=scheme,
        token=token,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )


__all__ = [
    "Outcome",
    "Reconciler",
    "cleanup_delay",
    "delete_artifacts",
    "is_finished",
    "job_outcome",
    "manifest_from_body",
    "mean_pgrs",
    "post_event",
    "register",
]
