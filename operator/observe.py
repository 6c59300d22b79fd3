"""What a stage's Job and its pods say about the stage: phase, attempts, times, why it failed.

Pure functions over the dicts the API returns (``job.to_dict()`` of the kubernetes client uses
snake_case keys; pass ``api_client.sanitize_for_serialization(job)`` or raw JSON: camelCase).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ensemw2s.spec import Stage, StageSummary
from ensemw2s.spec.results import ExperimentResults
from pydantic import ValidationError

from .errors import ForeignObjectError
from .jobs import CONTAINER
from .naming import ANNOTATION_COMPLETION_INDEX, LABEL_JOB_NAME, LABEL_STAGE

LOG_TAIL_LINES = 20
"""Last log lines kept of a failed stage: from its termination message, else read from its pod's log."""
LOG_TAIL_CHARS = 1024
_LEGACY_JOB_NAME_LABEL = "job-name"


class JobPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SUSPENDED = "Suspended"


@dataclass(frozen=True)
class ObservedJob:
    """One stage's Job as last seen. ``reason``: why it failed, or why it is stuck while pending."""

    stage: Stage
    name: str
    phase: JobPhase
    attempts: int
    started: str | None
    finished: str | None
    reason: str | None
    summary: StageSummary | None
    log_tail: str | None = None
    deleting: bool = False
    """The Job has a deletionTimestamp: it is going away (e.g. for a retry) and does not count."""
    uid: str | None = None
    """The Job's uid: tells the Job a redo replaces from the one created for it."""

    @property
    def results(self) -> ExperimentResults | None:
        """The report stage's results, typed; None without a summary, without results, or unreadable."""
        return report_results(self.summary)


def report_results(summary: StageSummary | None) -> ExperimentResults | None:
    """The experiment results a (report) stage's summary carries, as the typed model; None when absent or
    not readable by this operator (a newer trainer's fields): the status then keeps the results it had."""
    if summary is None or summary.results is None:
        return None
    try:
        return ExperimentResults.model_validate(summary.results)
    except ValidationError:
        return None


def _get(obj: Mapping[str, Any] | None, *path: str) -> Any:
    current: Any = obj
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def _true_condition(job: Mapping[str, Any], *types: str) -> Mapping[str, Any] | None:
    for condition in _get(job, "status", "conditions") or []:
        if condition.get("type") in types and condition.get("status") == "True":
            return condition  # type: ignore[no-any-return]
    return None


def _count(job: Mapping[str, Any], field: str) -> int:
    value = _get(job, "status", field)
    return int(value) if isinstance(value, int) else 0


def _created(pod: Mapping[str, Any]) -> str:
    return str(_get(pod, "metadata", "creationTimestamp") or "")


def _trainer_state(pod: Mapping[str, Any], state: str) -> Mapping[str, Any] | None:
    statuses = _get(pod, "status", "containerStatuses") or []
    for status in statuses:
        if status.get("name") == CONTAINER or len(statuses) == 1:
            found = _get(status, "state", state)
            if found is None and state == "terminated":
                found = _get(status, "lastState", "terminated")
            return found if isinstance(found, Mapping) else None
    return None


def _pod_failure(pod: Mapping[str, Any]) -> str | None:
    """Why one pod failed: ``OOMKilled``, ``exit code 3``, ``Evicted``...; None if it did not fail."""
    terminated = _trainer_state(pod, "terminated")
    if terminated is not None:
        code = terminated.get("exitCode")
        reason = terminated.get("reason")
        if code == 0:
            return None
        if reason and reason not in {"Error", "Completed"}:
            return str(reason)
        if code is not None:
            return f"exit code {code}"
    if _get(pod, "status", "phase") == "Failed":
        return str(_get(pod, "status", "reason") or "PodFailed")
    return None


def _newest_first(pods: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(pods, key=_created, reverse=True)


def failure_reason(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> str | None:
    """Why a stage failed, most specific first: the newest failed pod (``OOMKilled``,
    ``exit code 3``), else the Job's condition (``DeadlineExceeded``, ``BackoffLimitExceeded``).

    A deadline wins over the pod's exit code (the pod was killed because of it). None while
    nothing has failed.
    """
    condition = _true_condition(job, "Failed", "FailureTarget")
    job_reason = str(condition.get("reason") or "Failed") if condition is not None else None
    if job_reason == "DeadlineExceeded":
        return job_reason
    for pod in _newest_first(pods):
        reason = _pod_failure(pod)
        if reason is not None:
            return reason
    return job_reason


def _pending_reason(pods: Sequence[Mapping[str, Any]]) -> str | None:
    """Why a pod does not run: ``ImagePullBackOff``, ``CreateContainerConfigError``, ``Unschedulable``."""
    for pod in _newest_first(pods):
        waiting = _trainer_state(pod, "waiting")
        if waiting is not None and waiting.get("reason") not in {None, "ContainerCreating", "PodInitializing"}:
            return str(waiting["reason"])
        for condition in _get(pod, "status", "conditions") or []:
            if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
                return str(condition.get("reason") or "Unschedulable")
    return None


def newest_failed_pod(pods: Sequence[Mapping[str, Any]]) -> str | None:
    """The name of the pod whose log explains a failure: the newest failed one, else the newest."""
    failed = [p for p in pods if _get(p, "status", "phase") == "Failed"] or list(pods)
    return str(_get(_newest_first(failed)[0], "metadata", "name")) if failed else None


def _log_tail(pods: Sequence[Mapping[str, Any]]) -> str | None:
    """The newest failed pod's termination message (its last log lines), when it is not a summary."""
    for pod in _newest_first(pods):
        if _pod_failure(pod) is None:
            continue
        terminated = _trainer_state(pod, "terminated") or {}
        message = str(terminated.get("message") or "").strip()
        if not message or StageSummary.from_termination_message(message) is not None:
            continue
        tail = "\n".join(message.splitlines()[-LOG_TAIL_LINES:])
        return tail[-LOG_TAIL_CHARS:]
    return None


def _summary(pods: Sequence[Mapping[str, Any]]) -> StageSummary | None:
    """The succeeded pod's summary; for Indexed Jobs, rank 0's."""

    def rank(pod: Mapping[str, Any]) -> str:
        return str(_get(pod, "metadata", "annotations", ANNOTATION_COMPLETION_INDEX) or "0")

    for pod in sorted(pods, key=lambda p: (rank(p) != "0", _created(p))):
        terminated = _trainer_state(pod, "terminated")
        if terminated is None or terminated.get("exitCode") != 0:
            continue
        summary = StageSummary.from_termination_message(str(terminated.get("message") or ""))
        if summary is not None:
            return summary
    return None


def job_outcome(job: Mapping[str, Any]) -> JobPhase | None:
    """SUCCEEDED or FAILED from a Job's conditions; None while it has not ended."""
    if _true_condition(job, "Complete", "SuccessCriteriaMet") is not None:
        return JobPhase.SUCCEEDED
    if _true_condition(job, "Failed", "FailureTarget") is not None:
        return JobPhase.FAILED
    return None


def _phase(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> JobPhase:
    outcome = job_outcome(job)
    if outcome is not None:
        return outcome
    if _get(job, "spec", "suspend") is True or _true_condition(job, "Suspended") is not None:
        return JobPhase.SUSPENDED
    running = any(_get(p, "status", "phase") == "Running" for p in pods)
    return JobPhase.RUNNING if running or _count(job, "ready") > 0 else JobPhase.PENDING


def _attempts(job: Mapping[str, Any]) -> int:
    """Pods started per completion: 1 for a first try, 3 after two failed pods (Indexed: per index)."""
    pods = _count(job, "active") + _count(job, "succeeded") + _count(job, "failed")
    completions = _get(job, "spec", "completions")
    per_try = completions if isinstance(completions, int) and completions > 0 else 1
    return math.ceil(pods / per_try)


def stage_of_job(job: Mapping[str, Any]) -> Stage:
    """The stage a Job runs, from its ``ensemw2s.io/stage`` label."""
    name = _get(job, "metadata", "name")
    label = _get(job, "metadata", "labels", LABEL_STAGE)
    try:
        return Stage.parse(str(label))
    except ValueError:
        raise ForeignObjectError(
            f"job {name}: metadata.labels.{LABEL_STAGE} is not a stage (got {label!r}); "
            "the operator only observes Jobs it created"
        ) from None


def observe_job(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> ObservedJob:
    """A stage's state from its Job and the Job's pods (any order)."""
    phase = _phase(job, pods)
    failed = phase is JobPhase.FAILED
    if failed:
        reason = failure_reason(job, pods)
        finished = _get(_true_condition(job, "Failed", "FailureTarget"), "lastTransitionTime")
    elif phase is JobPhase.PENDING:
        reason, finished = _pending_reason(pods), None
    else:
        reason, finished = None, _get(job, "status", "completionTime")
    return ObservedJob(
        stage=stage_of_job(job),
        name=str(_get(job, "metadata", "name")),
        phase=phase,
        attempts=_attempts(job),
        started=_get(job, "status", "startTime"),
        finished=finished,
        reason=reason,
        summary=_summary(pods) if phase is JobPhase.SUCCEEDED else None,
        log_tail=_log_tail(pods) if failed else None,
        deleting=_get(job, "metadata", "deletionTimestamp") is not None,
        uid=_get(job, "metadata", "uid"),
    )


def pods_of_job(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The pods that belong to a Job: by owner uid, else by the Job controller's job-name label."""
    name = _get(job, "metadata", "name")
    uid = _get(job, "metadata", "uid")
    out = []
    for pod in pods:
        owners = _get(pod, "metadata", "ownerReferences") or []
        labels = _get(pod, "metadata", "labels") or {}
        if (uid and any(o.get("uid") == uid for o in owners)) or name in {
            labels.get(LABEL_JOB_NAME),
            labels.get(_LEGACY_JOB_NAME_LABEL),
        }:
            out.append(pod)
    return out


def observe_jobs(jobs: Sequence[Mapping[str, Any]], pods: Sequence[Mapping[str, Any]]) -> list[ObservedJob]:
    """Every stage Job of an experiment (listed by :func:`~.naming.experiment_selector`), skipping
    objects with our labels that are not stage Jobs."""
    observed = []
    for job in jobs:
        try:
            observed.append(observe_job(job, pods_of_job(job, pods)))
        except ForeignObjectError:
            continue
    return observed


__all__ = [
    "LOG_TAIL_LINES",
    "JobPhase",
    "ObservedJob",
    "failure_reason",
    "job_outcome",
    "newest_failed_pod",
    "observe_job",
    "observe_jobs",
    "pods_of_job",
    "report_results",
    "stage_of_job",
]
