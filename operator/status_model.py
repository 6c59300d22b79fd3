"""The ``.status`` of an ``EnsemW2SExperiment``: typed, camelCase, and the source of the CRD's status schema.

Two kinds of fields:

- **What users read**: ``phase``, ``conditions`` (the standard Kubernetes shape), ``stage``, ``round``
  and ``pgr`` (printer columns), a bounded ``stages`` list with details, ``results``.
- **What the operator needs to stay level-based** when Jobs disappear (``ttlSecondsAfterFinished``,
  a user's ``kubectl delete job``): ``succeededStages`` / ``failedStages`` (complete lists of names;
  about 30 KiB for the largest graph the schema allows), ``requestedStages`` (created but not seen
  yet), ``retryingStages``, ``retryToken``, ``redoingStages`` / ``redoToken`` (a redo asked for with
  ``ensemw2s.io/redo``), ``acceptedSpecHash`` / ``acceptedSpec``.

``results`` is the spec's :class:`~ensemw2s.spec.results.ExperimentResults`, as the report stage's
termination message carried it: typed here, in the CRD's schema and in ``w2sctl``, never re-read by key.

Bounding: ``stages`` holds at most :data:`MAX_STAGE_DETAILS` entries. When the experiment has more
stages with details, failed ones are kept first, then unfinished ones (running, pending, ...), then
the most recently finished; the kept entries are listed in graph order and ``stagesOmitted`` counts
the rest. Correctness never depends on ``stages``: only on the name lists above.

Maps merge under a JSON merge patch, lists replace: every field that changes often is a list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ensemw2s.spec.base import to_camel
from ensemw2s.spec.contract import ANNOTATION_REDO, ANNOTATION_RETRY
from ensemw2s.spec.results import ExperimentResults, PGRs
from ensemw2s.spec.results_text import format_pgr
from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_STAGE_DETAILS = 64
REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
MESSAGE_LIMIT = 32768


class StatusModel(BaseModel):
    """camelCase like the rest of the resource; tolerant of fields written by a newer operator."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class Phase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUSPENDED = "Suspended"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    INVALID = "Invalid"


class ConditionType(StrEnum):
    ACCEPTED = "Accepted"
    SPEC_UP_TO_DATE = "SpecUpToDate"
    WEAK_TRAINED = "WeakTrained"
    AGGREGATED = "Aggregated"
    STRONG_TRAINED = "StrongTrained"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SUSPENDED = "Suspended"


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(StatusModel):
    """A ``metav1.Condition``."""

    type: str = Field(min_length=1, max_length=316)
    status: ConditionStatus
    reason: str = Field(min_length=1, max_length=1024, pattern=REASON_PATTERN)
    message: str = Field(default="", max_length=MESSAGE_LIMIT)
    last_transition_time: str = Field(
        description="RFC 3339; changes only when status flips.", json_schema_extra={"format": "date-time"}
    )
    observed_generation: int | None = Field(default=None, ge=0)


class StagePhase(StrEnum):
    CREATING = "Creating"
    """The operator asked for the Job and has not seen it yet."""
    PENDING = "Pending"
    QUEUED = "Queued"
    """Suspended by Kueue until admitted (spec.scheduling.queueName)."""
    RUNNING = "Running"
    SUSPENDED = "Suspended"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    RETRYING = "Retrying"
    """The failed Job is being deleted so the stage can run again."""
    REDOING = "Redoing"
    """A redo was asked for: the stage's Job is being deleted so the stage runs again with ``--redo``."""


class StageSummaryStatus(StatusModel):
    """What the status keeps of a finished stage's summary (the rest stays in the store)."""

    seconds: float = Field(ge=0, description="Wall time of the stage.")
    skipped: bool = Field(default=False, description="True when the stage found its output already done.")
    metrics: dict[str, float] = Field(default_factory=dict, description="Stage metrics (accuracy, eps, alpha, ...).")


class StageStatus(StatusModel):
    name: str
    phase: StagePhase
    job: str | None = None
    attempts: int = Field(default=0, ge=0, description="Pods started by the current Job (per index).")
    retries: int = Field(default=0, ge=0, description="Times the stage's Job was recreated after a failure.")
    start_time: str | None = None
    completion_time: str | None = None
    reason: str | None = Field(default=None, description="Why it failed (OOMKilled, exit code 3, ...) or waits.")
    message: str | None = Field(default=None, max_length=2048, description="Last log lines of a failed stage.")
    summary: StageSummaryStatus | None = Field(default=None, description="The stage's summary.")


class StageRequest(StatusModel):
    name: str
    requested_at: str = Field(json_schema_extra={"format": "date-time"})


class RedoingStage(StatusModel):
    name: str
    requested_at: str = Field(json_schema_extra={"format": "date-time"}, description="When the redo was asked for.")
    replaces: str | None = Field(default=None, description="The uid of the Job to replace (none: no Job then).")


class StageCounts(StatusModel):
    total: int = Field(default=0, ge=0)
    waiting: int = Field(default=0, ge=0, description="Not created yet.")
    active: int = Field(default=0, ge=0, description="Creating, pending, queued or running.")
    suspended: int = Field(default=0, ge=0)
    succeeded: int = Field(default=0, ge=0)
    failed: int = Field(default=0, ge=0)


class ExperimentStatus(StatusModel):
    observed_generation: int | None = Field(default=None, ge=0)
    phase: Phase = Phase.PENDING
    message: str | None = Field(default=None, description="One line on the phase, e.g. why it failed.")
    conditions: list[Condition] = Field(default_factory=list)
    stage: str | None = Field(default=None, description="The most advanced active (or the failed) stage.")
    round: str | None = Field(default=None, description="Weak rounds done / rounds, e.g. 2/4 (slowest seed).")
    pgr: str | None = Field(default=None, description="Mean EnsemW2S-vs-weak PGR over seeds, 2 decimals, or n/a.")
    stages: list[StageStatus] = Field(default_factory=list, max_length=MAX_STAGE_DETAILS)
    stages_omitted: int = Field(default=0, ge=0, description="Stages with details left out of stages.")
    stage_counts: StageCounts = Field(default_factory=StageCounts)
    succeeded_stages: list[str] = Field(default_factory=list)
    failed_stages: list[str] = Field(default_factory=list)
    retrying_stages: list[str] = Field(default_factory=list)
    requested_stages: list[StageRequest] = Field(default_factory=list)
    retry_token: str | None = Field(default=None, description=f"The last {ANNOTATION_RETRY} annotation acted on.")
    redoing_stages: list[RedoingStage] = Field(
        default_factory=list, description="Stages to run again with --redo until a new Job runs them."
    )
    redo_token: str | None = Field(default=None, description=f"The last {ANNOTATION_REDO} annotation acted on.")
    results: ExperimentResults | None = Field(
        default=None, description="Compact experiment results from the report stage."
    )
    accepted_spec_hash: str | None = Field(default=None, description="Hash of the spec fields fixed at acceptance.")
    accepted_spec: dict[str, Any] | None = Field(default=None, description="Those fields' accepted values.")

    def condition(self, type_: ConditionType | str) -> Condition | None:
        return find_condition(self.conditions, type_)

    def mean_pgrs(self) -> PGRs | None:
        """The report's PGRs, mean over seeds; None before the report."""
        return None if self.results is None else self.results.mean_pgr

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON written to ``.status``; None values stay so a merge patch removes old fields."""
        return self.model_dump(mode="json", by_alias=True)


def pgr_text(results: ExperimentResults | None) -> str | None:
    """The ``PGR`` printer column: the report's mean EnsemW2S-vs-weak PGR (``0.41``, or ``n/a`` exactly where
    the report says n/a; never a mean of per-seed PGRs); None before the report."""
    return None if results is None else format_pgr(results.mean_pgr.ensemw2s_vs_weak)


def rfc3339(moment: datetime) -> str:
    """``2024-05-01T12:00:00Z`` (seconds, UTC), as Kubernetes writes times."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_status(data: Mapping[str, Any] | None) -> ExperimentStatus:
    """The previous status as written by any operator version; unreadable parts are dropped."""
    if not data:
        return ExperimentStatus()
    plain = dict(data)
    try:
        return ExperimentStatus.model_validate(plain)
    except ValidationError as exc:
        broken = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
        kept = {key: value for key, value in plain.items() if key not in broken}
        try:
            return ExperimentStatus.model_validate(kept)
        except ValidationError:
            return ExperimentStatus()


def find_condition(conditions: Sequence[Condition], type_: ConditionType | str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def is_true(conditions: Sequence[Condition], type_: ConditionType | str) -> bool:
    found = find_condition(conditions, type_)
    return found is not None and found.status is ConditionStatus.TRUE


def set_condition(
    conditions: Sequence[Condition],
    type_: ConditionType,
    status: bool | ConditionStatus,
    reason: str,
    message: str,
    now: datetime,
    generation: int | None,
) -> list[Condition]:
    """Conditions with ``type_`` set; ``lastTransitionTime`` changes only when ``status`` flips."""
    value = status if isinstance(status, ConditionStatus) else ConditionStatus.TRUE if status else ConditionStatus.FALSE
    previous = find_condition(conditions, type_)
    since = previous.last_transition_time if previous is not None and previous.status is value else rfc3339(now)
    new = Condition(
        type=type_.value,
        status=value,
        reason=reason,
        message=message[:MESSAGE_LIMIT],
        last_transition_time=since,
        observed_generation=generation,
    )
    out = [new if c.type == type_ else c for c in conditions]
    return out if previous is not None else [*out, new]


_KEEP_FIRST = {StagePhase.FAILED: 0, StagePhase.RETRYING: 1, StagePhase.REDOING: 1, StagePhase.SUCCEEDED: 3}


def bound_stages(
    entries: Sequence[StageStatus], order: Sequence[str], limit: int = MAX_STAGE_DETAILS
) -> tuple[list[StageStatus], int]:
    """At most ``limit`` entries: failed, then unfinished, then the newest finished; in graph order."""
    if len(entries) <= limit:
        kept = list(entries)
    else:
        newest_first = sorted(entries, key=lambda e: e.completion_time or "", reverse=True)
        ranked = sorted(newest_first, key=lambda e: _KEEP_FIRST.get(e.phase, 2))
        kept = ranked[:limit]
    position = {name: i for i, name in enumerate(order)}
    kept.sort(key=lambda e: position.get(e.name, len(position)))
    return kept, len(entries) - len(kept)


__all__ = [
    "MAX_STAGE_DETAILS",
    "Condition",
    "ConditionStatus",
    "ConditionType",
    "ExperimentStatus",
    "Phase",
    "RedoingStage",
    "StageCounts",
    "StagePhase",
    "StageRequest",
    "StageStatus",
    "StageSummaryStatus",
    "bound_stages",
    "find_condition",
    "is_true",
    "parse_status",
    "parse_time",
    "pgr_text",
    "rfc3339",
    "set_condition",
]
