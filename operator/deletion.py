"""Deleting an experiment: with ``runPolicy.deleteArtifacts``, its artifacts go first.

:func:`delete_artifacts` is the body of the ``on.delete`` handler, which runs behind Kopf's finalizer
(``ensemw2s.io/operator``): it stops the stage Jobs, runs the cleanup Job and keeps the finalizer until
that Job has ended; without ``deleteArtifacts`` it only says where the artifacts stay. It never blocks
forever: a failed cleanup, an unreadable spec or a refused Job let the deletion go on with a Warning
event, and Kopf gives the handler up after :data:`CLEANUP_TIMEOUT`.

Level-based like the reconciler: every call looks at what exists, so a restart or a repeated call
changes nothing. Waiting is a :class:`~.errors.TemporaryError` with the delay of :func:`cleanup_delay`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ensemw2s.spec import SpecError

from .errors import PermanentError, TemporaryError
from .jobs import Owner, artifacts_location, build_cleanup_job, owner_from_body
from .k8s import ClusterApi
from .naming import ANNOTATION_EXPERIMENT_UID, LABEL_MANAGED_BY, MANAGER
from .observe import JobPhase, failure_reason, job_outcome, pods_of_job
from .plan import EventSpec
from .resource import EventSink, manifest_from_body
from .stage_defaults import BUILT_IN_DEFAULTS, StageDefaults

logger = logging.getLogger(__name__)

CLEANUP_POLL = 2.0
"""Seconds before the first re-check of a deletion waiting for Jobs; x1.5 per retry up to CLEANUP_POLL_MAX."""
CLEANUP_POLL_MAX = 15.0
CLEANUP_TIMEOUT = 1800.0
"""Kopf gives the deletion handler up (and releases the finalizer) after 30 minutes of retries."""
ARTIFACTS_KEPT = "ArtifactsKept"
DELETING_ARTIFACTS = "DeletingArtifacts"
ARTIFACTS_DELETED = "ArtifactsDeleted"
CLEANUP_FAILED = "ArtifactCleanupFailed"


def cleanup_delay(retry: int) -> float:
    """Seconds until a waiting deletion looks again: quick at first, then every CLEANUP_POLL_MAX seconds."""
    return float(min(CLEANUP_POLL_MAX, CLEANUP_POLL * 1.5 ** min(max(retry, 0), 20)))


async def delete_artifacts(
    api: ClusterApi,
    body: Mapping[str, Any],
    *,
    emit: EventSink,
    retry: int = 0,
    defaults: StageDefaults = BUILT_IN_DEFAULTS,
) -> None:
    """The experiment is being deleted: with ``runPolicy.deleteArtifacts``, delete its artifacts first
    (the cleanup Job runs the experiment's trainer image: ``spec.image``, else the operator's ``defaults``).

    Returns when the deletion may go on (Kopf then removes the finalizer); raises TemporaryError while
    it must wait (stage Jobs still stopping, the cleanup Job still running).
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
        cleanup_job = build_cleanup_job(manifest, owner, defaults=defaults)
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


__all__ = [
    "ARTIFACTS_DELETED",
    "ARTIFACTS_KEPT",
    "CLEANUP_FAILED",
    "CLEANUP_POLL",
    "CLEANUP_POLL_MAX",
    "CLEANUP_TIMEOUT",
    "DELETING_ARTIFACTS",
    "cleanup_delay",
    "delete_artifacts",
]
