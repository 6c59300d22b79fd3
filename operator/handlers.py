"""Kopf handlers: thin triggers over one level-based reconciliation (parse, plan, apply).

Every trigger (create, resume, update, a timer, an event of an owned Job) runs the same
:meth:`Reconciler.reconcile`, which reads the experiment fresh from the API, lists what it owns,
asks the pure planner what to do, and applies that: create the missing Jobs (a 409 means one is
already there), suspend/resume/delete, patch ``.status``, post the plan's events. Nothing depends on
having seen a particular event, so a restart or a missed event loses nothing and duplicates nothing.

Concurrency: Kopf serialises the create/update/resume handlers of one object, but timers and the
Job-event handler run beside them. A per-experiment lock serialises all of them; a trigger that
finds another one already waiting for the lock is dropped (the waiting one will read fresh state).

Deletion: an ``on.delete`` handler behind Kopf's finalizer runs :func:`.deletion.delete_artifacts`.

Login: Kopf's own :func:`kopf.login_via_client` (in-cluster service account, else ``$KUBECONFIG`` or
``~/.kube/config``), the same discovery the API helper (:mod:`.k8s`) uses. ``--kubeconfig``/``--context``
name a file or context Kopf's helpers cannot be given: then Kopf gets the credentials of the client
configuration the API helper loaded (:func:`forced_login`), so both always talk to the same cluster.
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
    PLURAL,
    ExperimentManifest,
    Problem,
    SpecError,
    Stage,
    Target,
    problem,
    validate_spec,
)
from kubernetes import client

from .deletion import CLEANUP_TIMEOUT, delete_artifacts
from .errors import PermanentError, TemporaryError
from .jobs import Owner, build_rendezvous_service, build_stage_job, owner_from_body
from .k8s import ClusterApi, JsonObject, load_client_configuration, status_patch
from .metrics import OperatorMetrics
from .naming import LABEL_MANAGED_BY, MANAGER
from .observe import LOG_TAIL_LINES, JobPhase, ObservedJob, failure_reason, newest_failed_pod, observe_jobs, pods_of_job
from .plan import EventSpec, Plan, plan_reconcile, plan_rejected
from .resource import EventSink, generation_of, is_finished, manifest_from_body, owner_experiment, status_of
from .settings import OperatorConfig
from .stage_defaults import BUILT_IN_DEFAULTS, StageDefaults
from .status_model import ExperimentStatus, StageStatus, parse_time

logger = logging.getLogger(__name__)

RESOURCE = (API_GROUP, API_VERSION, PLURAL)
SPEC_WARNING = "SpecWarning"

R = TypeVar("R")


def utcnow() -> datetime:
    return datetime.now(UTC)


def post_event(body: Mapping[str, Any], event: EventSpec) -> None:
    """Queue a Kubernetes Event on the experiment (Kopf posts it in the background, with retries)."""
    raw = cast(kopf.RawBody, dict(body))
    kopf.event(kopf.Body(raw), type=event.type, reason=event.reason, message=event.message)


@dataclass(frozen=True)
class Outcome:
    result: str
    plan: Plan | None = None


class Reconciler:
    """Reads, plans and applies, one experiment at a time; the only writer of an experiment's status.

    ``stage_defaults`` (the operator's ``--stage-defaults``) fill the image and resources a spec leaves
    out, in the stage Jobs and the cleanup Job alike.
    """

    def __init__(
        self,
        api: ClusterApi,
        metrics: OperatorMetrics,
        *,
        stage_defaults: StageDefaults = BUILT_IN_DEFAULTS,
        emit: EventSink = post_event,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.api = api
        self.metrics = metrics
        self.stage_defaults = stage_defaults
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
        generation = generation_of(body)
        previous = status_of(body)
        try:
            manifest = manifest_from_body(body)
            warnings = validate_spec(manifest.spec, Target.CLUSTER)
        except SpecError as exc:
            return await self._reject(body, exc.problems)
        if previous.observed_generation != generation:
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
            return await self._reject(body, [problem(f"{manifest.kind} {namespace}/{name}", str(exc))])
        await self._write_status(body, plan)
        self._count_retries(observed, jobs, pods, previous)
        return Outcome("ok", plan)

    async def _reject(self, body: JsonObject, problems: Sequence[Problem]) -> Outcome:
        plan = plan_rejected(list(problems), generation_of(body), status_of(body), self._clock())
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
                pod = newest_failed_pod(pods_of_job(by_name[item.name], pods))
                if pod is not None:
                    try:
                        tail = await self.api.read_log_tail(namespace, pod, LOG_TAIL_LINES)
                    except TemporaryError as exc:  # the kubelet is unreachable: report the failure without a tail
                        logger.warning("%s/%s: no log tail for the failed stage (%s)", namespace, item.name, exc)
                        tail = None
                    if tail and tail.strip():
                        item = dataclasses.replace(item, log_tail=tail.strip())
            out.append(item)
        return out

    async def _apply_objects(self, body: JsonObject, manifest: ExperimentManifest, plan: Plan) -> None:
        namespace = manifest.namespace
        if plan.create:
            owner = owner_from_body(body)
            for stage in plan.create:
                await self._create_stage(manifest, stage, owner, redo=stage in plan.redo)
        for job in plan.suspend:
            await self.api.patch_job_suspend(namespace, job, True)
        for job in plan.resume:
            await self.api.patch_job_suspend(namespace, job, False)
        for job in plan.delete:
            await self.api.delete_if_exists("Job", namespace, job)

    async def _create_stage(self, manifest: ExperimentManifest, stage: Stage, owner: Owner, *, redo: bool) -> None:
        service = build_rendezvous_service(manifest, stage, owner)
        if service is not None:
            await self.api.create_or_get(service)
        wanted = build_stage_job(manifest, stage, owner, defaults=self.stage_defaults, redo=redo)
        job, created = await self.api.create_or_get(wanted)
        if not created:
            logger.debug("Job %s/%s already exists", manifest.namespace, (job.get("metadata") or {}).get("name"))

    async def _write_status(self, body: JsonObject, plan: Plan) -> None:
        meta = body.get("metadata") or {}
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        patch = status_patch(body.get("status") or {}, plan.status.to_json_dict())
        if patch and await self.api.patch_status(namespace, name, patch) is None:
            self.forget(namespace, name)
            return
        for event in plan.events:
            logger.info(
                "%s/%s: %s: %s", namespace, name, event.reason, event.message.splitlines()[0] if event.message else ""
            )
            self._emit(body, event)
        self._record_metrics(namespace, name, status_of(body), plan.status)

    def _record_metrics(self, namespace: str, name: str, previous: ExperimentStatus, status: ExperimentStatus) -> None:
        self.metrics.set_experiment(namespace, name, status.phase.value, status.mean_pgrs())
        details = {entry.name: entry for entry in status.stages}
        finished = set(status.succeeded_stages) | set(status.failed_stages)
        for stage_name in finished - set(previous.succeeded_stages) - set(previous.failed_stages):
            entry = details.get(stage_name)
            seconds = _stage_seconds(entry) if entry is not None else None
            if seconds is not None:
                self.metrics.observe_stage(_stage_kind(stage_name), seconds)

    def _count_retries(
        self,
        observed: Sequence[ObservedJob],
        jobs: Sequence[JsonObject],
        pods: Sequence[JsonObject],
        previous: ExperimentStatus,
    ) -> None:
        """Pod retries since the last status: attempts beyond the ones already recorded, by failure reason."""
        before = {entry.job: entry.attempts for entry in previous.stages}
        by_name = {str((job.get("metadata") or {}).get("name")): job for job in jobs}
        for item in observed:
            retried = item.attempts - max(1, before.get(item.name, 1))
            if retried > 0 and item.name in by_name:
                job = by_name[item.name]
                self.metrics.count_retries(failure_reason(job, pods_of_job(job, pods)) or "Unknown", retried)


def _stage_kind(stage_name: str) -> str:
    try:
        return str(Stage.parse(stage_name).kind.value)
    except ValueError:
        return "unknown"


def _stage_seconds(entry: StageStatus) -> float | None:
    """The stage's own wall time from its summary, else its Job's start to end."""
    if entry.summary is not None:
        return entry.summary.seconds
    begin, finish = parse_time(entry.start_time), parse_time(entry.completion_time)
    return None if begin is None or finish is None else (finish - begin).total_seconds()


async def as_kopf_errors(awaitable: Awaitable[R]) -> R:
    """Map the operator's errors to Kopf's: temporary ones retry after their delay, permanent ones stop."""
    try:
        return await awaitable
    except TemporaryError as exc:
        raise kopf.TemporaryError(str(exc), delay=exc.delay) from exc
    except PermanentError as exc:
        raise kopf.PermanentError(str(exc)) from exc


def register(registry: kopf.OperatorRegistry, config: OperatorConfig, reconciler: Reconciler) -> None:
    """Register every handler of the operator in ``registry``."""

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        if config.kubeconfig is None and config.context is None:
            return kopf.login_via_client(**kwargs)
        return forced_login(load_client_configuration(config.kubeconfig, config.context))

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
        deletion = delete_artifacts(
            reconciler.api, body, emit=post_event, retry=retry, defaults=reconciler.stage_defaults
        )
        await as_kopf_errors(deletion)

    @kopf.on.event(*RESOURCE, registry=registry)
    def forget_deleted(*, type: str | None, namespace: str | None, name: str, **_: Any) -> None:
        if type == "DELETED":
            reconciler.forget(str(namespace), name)


def forced_login(configuration: client.Configuration) -> kopf.ConnectionInfo:
    """Kopf's credentials for an explicit ``--kubeconfig``/``--context``: the client configuration the API
    helper loaded, read the way :func:`kopf.login_via_client` reads the default one."""
    header = configuration.get_api_key_with_prefix("BearerToken") or configuration.get_api_key_with_prefix(
        "authorization"
    )
    scheme, _, token = (header or "").rpartition(" ")
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        username=configuration.username or None,
        password=configuration.password or None,
        scheme=scheme or None,
        token=token or None,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )


__all__ = ["Outcome", "Reconciler", "as_kopf_errors", "forced_login", "post_event", "register"]
