"""The reconcile plan: from the spec, the observed Jobs and the previous status, what to do next.

Pure: no API calls, no clock (``now`` is a parameter), so every rule is a unit test. The runtime
applies a :class:`Plan`: create the Jobs of ``create`` (``build_stage_job``; a 409 means it is
already there), patch ``spec.suspend`` of ``suspend``/``resume``, delete ``delete`` (propagation
Background), write ``status`` with a merge patch, and post ``events``.

Rules (see also ``status_model``):

- **Failure is fail-fast**: once a stage failed (its Job's ``backoffLimit`` is spent, or exit code 2),
  the experiment is Failed and no new stage starts; running stages may finish. Completed stages stay
  completed (recorded in ``status.succeededStages``, so even a Job removed by
  ``ttlSecondsAfterFinished`` is not rerun). A failed stage stays failed even if its Job disappears.
- **Retry**: set the annotation ``ensemw2s.io/retry`` to a new value (``kubectl annotate w2sx NAME
  ensemw2s.io/retry=$(date +%s) --overwrite``). The plan deletes the failed Jobs and recreates them
  once they are gone; only the failed part (and what waits on it) runs again, and the trainer skips
  finished work by stage key. Each recreation counts in the stage's ``retries``.
- **Redo**: set the annotation ``ensemw2s.io/redo`` to stage names (``kubectl annotate w2sx NAME
  ensemw2s.io/redo=weak-s1-r1 --overwrite``; several: ``weak-s1-r1,strong-s1-w2s``; the same stages
  again: a new value such as ``weak-s1-r1@2``, see :mod:`.redo`). Those stages and every stage downstream
  of them become ``Redoing``, recorded in ``status.redoingStages`` with the uid of the Job each one
  replaces: that Job, finished or running, is deleted; once it is gone the stage is created again when
  its dependencies have succeeded, with the contract's ``--redo`` (the trainer discards the stage's
  finished output: downstream keys do not change with upstream outputs, so they need ``--redo`` too).
  Any other Job of the stage is the new one and ends its redo (no clocks compared). A name that is not a
  stage refuses the whole value with a ``RedoRefused`` Warning event.
- **Suspend**: ``spec.runPolicy.suspend: true`` suspends every unfinished Job and creates none;
  ``false`` resumes them. Jobs queued in Kueue (``spec.scheduling.queueName``) are never resumed by
  the operator: Kueue admits them.
- **Spec changes after start**: the fields in :data:`.spec_changes.MUTABLE_FIELDS` (how to run: image, resources,
  nodes, scheduling, run policy, threads, secrets) may change and apply to Jobs created afterwards.
  Any other change (what to compute) is refused: ``Accepted`` stays True (the running experiment is
  still the accepted one), ``SpecUpToDate`` turns False with reason ``SpecChangeRefused`` naming each
  field with its accepted value, and no new stage starts until the spec is reverted. Before any Job
  was created the new spec is simply accepted.
- **Events** only on transitions (compared with the previous status), so planning twice on the same
  observation emits nothing new. A Job asked for in the last :data:`CREATE_GRACE` and not seen yet
  counts as started, so it is not asked for twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ensemw2s.spec import (
    ExperimentManifest,
    Problem,
    Severity,
    Stage,
    StageGraph,
    StageKind,
    Target,
    build_stage_graph,
    semantic_problems,
)
from ensemw2s.spec.results import ExperimentResults

from .naming import ANNOTATION_REDO, ANNOTATION_RETRY, job_name
from .observe import JobPhase, ObservedJob
from .redo import redo_message, redo_request
from .spec_changes import MUTABLE_FIELDS, changed_fields, fixed_spec, graph_spec, refusal_message, spec_hash
from .status_model import (
    ConditionType,
    ExperimentStatus,
    Phase,
    RedoingStage,
    StageCounts,
    StagePhase,
    StageRequest,
    StageStatus,
    StageSummaryStatus,
    bound_stages,
    is_true,
    parse_time,
    pgr_text,
    rfc3339,
    set_condition,
)

CREATE_GRACE = timedelta(seconds=60)
EVENT_MESSAGE_LIMIT = 1024

_ACTIVE = {StagePhase.CREATING, StagePhase.PENDING, StagePhase.QUEUED, StagePhase.RUNNING}
_AGAIN = {StagePhase.RETRYING, StagePhase.REDOING}
"""Stages whose Job is being replaced: they count as active."""
_FROM_JOB = {
    JobPhase.PENDING: StagePhase.PENDING,
    JobPhase.RUNNING: StagePhase.RUNNING,
    JobPhase.SUCCEEDED: StagePhase.SUCCEEDED,
    JobPhase.FAILED: StagePhase.FAILED,
    JobPhase.SUSPENDED: StagePhase.SUSPENDED,
}


@dataclass(frozen=True)
class EventSpec:
    reason: str
    message: str
    type: str = "Normal"


@dataclass(frozen=True)
class Plan:
    create: tuple[Stage, ...] = ()
    redo: frozenset[Stage] = frozenset()
    """The stages of ``create`` whose Job runs with ``--redo``."""
    suspend: tuple[str, ...] = ()
    """Job names to set ``spec.suspend: true`` on."""
    resume: tuple[str, ...] = ()
    """Job names to set ``spec.suspend: false`` on."""
    delete: tuple[str, ...] = ()
    """Job names to delete for a retry or a redo."""
    status: ExperimentStatus = field(default_factory=ExperimentStatus)
    """The full new ``.status`` (written as JSON by ``status.to_json_dict()``)."""
    events: tuple[EventSpec, ...] = ()


# --- stage states -------------------------------------------------------------------------------


def _summary_status(job: ObservedJob) -> StageSummaryStatus | None:
    if job.summary is None:
        return None
    return StageSummaryStatus(seconds=job.summary.seconds, skipped=job.summary.skipped, metrics=job.summary.metrics)


def _entry_from_job(job: ObservedJob, previous: StageStatus | None, queued: bool) -> StageStatus:
    phase = _FROM_JOB[job.phase]
    if phase is StagePhase.SUSPENDED and queued:
        phase = StagePhase.QUEUED
    keep_failure = previous is not None and previous.phase is StagePhase.FAILED and phase is StagePhase.FAILED
    return StageStatus(
        name=job.stage.name,
        phase=phase,
        job=job.name,
        attempts=job.attempts,
        retries=previous.retries if previous is not None else 0,
        start_time=job.started,
        completion_time=job.finished,
        reason=job.reason or (previous.reason if keep_failure and previous else None),
        message=(job.log_tail or (previous.message if keep_failure and previous else None) or None),
        summary=_summary_status(job),
    )


@dataclass
class _Ledger:
    """The stages' states while planning: starts from the previous status, updated by observation."""

    entries: dict[str, StageStatus]
    succeeded: set[str]
    failed: set[str]
    retrying: set[str]
    requested: dict[str, str]
    redoing: dict[str, RedoingStage] = field(default_factory=dict)
    """Stages to redo, each with the uid of the Job to replace (any other Job is the one created for it)."""
    busy: set[str] = field(default_factory=set)
    """Stages that must not be created now (a Job exists, is being deleted, or was just asked for)."""
    delete: list[str] = field(default_factory=list)
    results: ExperimentResults | None = None
    """The report's results, when its Job is seen succeeded with a summary."""


def _observe(
    previous: ExperimentStatus,
    observed: Sequence[ObservedJob],
    now: datetime,
    queued: bool,
    retry: bool,
    redo: Sequence[Stage] = (),
) -> _Ledger:
    jobs: dict[str, ObservedJob] = {}
    for seen in observed:
        if seen.stage.name not in jobs or jobs[seen.stage.name].deleting:
            jobs[seen.stage.name] = seen
    prev_entries = {e.name: e for e in previous.stages}
    ledger = _Ledger(
        entries={},
        succeeded=set(previous.succeeded_stages),
        failed=set(previous.failed_stages),
        retrying=set(previous.retrying_stages),
        requested={r.name: r.requested_at for r in previous.requested_stages},
        redoing={r.name: r for r in previous.redoing_stages},
    )
    for stage in redo:  # a new request: also replaces the Jobs created for an earlier one
        old = jobs.get(stage.name)
        ledger.redoing[stage.name] = RedoingStage(
            name=stage.name, requested_at=rfc3339(now), replaces=old.uid if old is not None else None
        )
        ledger.requested.pop(stage.name, None)
    # Observed failures join the ledger first, so a retry requested now covers them too.
    ledger.failed |= {n for n, j in jobs.items() if j.phase is JobPhase.FAILED and not j.deleting} - ledger.retrying
    if retry:
        ledger.retrying |= ledger.failed
        ledger.failed.clear()
    names = set(jobs) | ledger.succeeded | ledger.failed | ledger.retrying | set(ledger.requested) | set(prev_entries)
    for name in names | set(ledger.redoing):
        job, prev = jobs.get(name), prev_entries.get(name)
        if name in ledger.redoing and _replaced(ledger, name, job, prev):
            continue
        if name in ledger.retrying and (job is None or job.deleting or job.phase is JobPhase.FAILED):
            _retrying(ledger, name, job, prev)
        elif job is not None and not job.deleting:
            ledger.retrying.discard(name)
            ledger.requested.pop(name, None)
            ledger.busy.add(name)
            entry = _entry_from_job(job, prev, queued)
            ledger.entries[name] = entry
            if entry.phase is StagePhase.SUCCEEDED:
                if job.stage.kind is StageKind.REPORT and job.results is not None:
                    ledger.results = job.results
                ledger.succeeded.add(name)
                ledger.failed.discard(name)
            elif entry.phase is StagePhase.FAILED:
                ledger.failed.add(name)
                ledger.succeeded.discard(name)
            else:  # a live Job again (recreated by hand): the observation wins
                ledger.failed.discard(name)
        else:
            _remembered(ledger, name, job, prev, now)
    return ledger


def _retrying(ledger: _Ledger, name: str, job: ObservedJob | None, prev: StageStatus | None) -> None:
    base = prev or StageStatus(name=name, phase=StagePhase.RETRYING)
    ledger.entries[name] = base.model_copy(update={"phase": StagePhase.RETRYING})
    ledger.requested.pop(name, None)
    if job is not None:
        ledger.busy.add(name)
        if not job.deleting:
            ledger.delete.append(job.name)


def _replaced(ledger: _Ledger, name: str, job: ObservedJob | None, prev: StageStatus | None) -> bool:
    """A stage being redone: its old Job is deleted and awaited; True while the stage stays ``Redoing``.

    False once another Job is seen (the one created for the redo: it is observed as usual).
    """
    if job is not None and not job.deleting and job.uid != ledger.redoing[name].replaces:
        del ledger.redoing[name]
        return False
    ledger.succeeded.discard(name)
    ledger.failed.discard(name)
    ledger.retrying.discard(name)
    if job is not None:
        ledger.busy.add(name)
        if not job.deleting:
            ledger.delete.append(job.name)
    elif name in ledger.requested:
        return False  # created for the redo, not seen yet: Creating (see _remembered)
    base = prev or StageStatus(name=name, phase=StagePhase.REDOING)
    ledger.entries[name] = base.model_copy(update={"phase": StagePhase.REDOING, "summary": None})
    return True


def _remembered(ledger: _Ledger, name: str, job: ObservedJob | None, prev: StageStatus | None, now: datetime) -> None:
    """A stage without a live Job: succeeded and failed stay so; a fresh request waits for its Job."""
    if job is not None:  # being deleted by someone: wait until it is gone
        ledger.busy.add(name)
    if name in ledger.succeeded or name in ledger.failed:
        phase = StagePhase.SUCCEEDED if name in ledger.succeeded else StagePhase.FAILED
        ledger.entries[name] = prev.model_copy(update={"phase": phase}) if prev else StageStatus(name=name, phase=phase)
        ledger.busy.add(name)
        return
    asked = parse_time(ledger.requested.get(name))
    if asked is not None and now - asked < CREATE_GRACE:
        ledger.entries[name] = StageStatus(
            name=name, phase=StagePhase.CREATING, job=prev.job if prev else None, retries=prev.retries if prev else 0
        )
        ledger.busy.add(name)


# --- the plans ----------------------------------------------------------------------------------


def _event(reason: str, message: str, type_: str = "Normal") -> EventSpec:
    text = message if len(message) <= EVENT_MESSAGE_LIMIT else message[: EVENT_MESSAGE_LIMIT - 3] + "..."
    return EventSpec(reason, text, type_)


def plan_rejected(
    problems: Sequence[Problem], generation: int | None, previous: ExperimentStatus, now: datetime
) -> Plan:
    """An invalid spec: ``Accepted=False`` (reason InvalidSpec), phase Invalid, nothing created.

    Everything else in the status (finished stages, results) is kept, so fixing the spec continues
    where the experiment was.
    """
    errors = [p for p in problems if p.severity is Severity.ERROR] or list(problems)
    message = "\n".join(str(p) for p in errors) or "the spec is invalid"
    before = previous.condition(ConditionType.ACCEPTED)
    conditions = set_condition(
        previous.conditions, ConditionType.ACCEPTED, False, "InvalidSpec", message, now, generation
    )
    first = str(errors[0]) if errors else message
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    status = previous.model_copy(
        update={
            "observed_generation": generation,
            "phase": Phase.INVALID,
            "message": first + more,
            "conditions": conditions,
        }
    )
    repeated = before is not None and before.reason == "InvalidSpec" and before.message == message
    events = () if repeated else (_event("InvalidSpec", message, "Warning"),)
    return Plan(status=status, events=events)


def plan_reconcile(
    manifest: ExperimentManifest,
    observed: Sequence[ObservedJob],
    previous: ExperimentStatus,
    generation: int | None,
    now: datetime,
) -> Plan:
    """What to create, suspend, resume and delete, and the new status (see the module docstring)."""
    spec = manifest.spec
    problems = semantic_problems(spec, Target.CLUSTER)
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        return plan_rejected(errors, generation, previous, now)
    warnings = [p for p in problems if p.severity is Severity.WARNING]
    events: list[EventSpec] = []

    # Which spec is accepted, and is the current one still it?
    fixed = fixed_spec(spec)
    current_hash = spec_hash(fixed)
    started = bool(
        observed or previous.succeeded_stages or previous.failed_stages or previous.requested_stages or previous.stages
    )
    accepted_hash, accepted = previous.accepted_spec_hash, previous.accepted_spec
    changes: list[tuple[str, Any, Any]] = []
    if accepted_hash is None or not started:
        accepted_hash, accepted = current_hash, fixed
    elif accepted_hash != current_hash:
        changes = changed_fields(accepted, fixed) if accepted else [("spec", "(unknown)", "(changed)")]
    refused = bool(changes)
    graph = build_stage_graph(graph_spec(spec, accepted, refused))

    # Retry requested?
    token = manifest.metadata.annotations.get(ANNOTATION_RETRY)
    retry = token is not None and token != previous.retry_token
    # Redo requested?
    redo_token = manifest.metadata.annotations.get(ANNOTATION_REDO)
    redo = None
    if redo_token is not None and redo_token != previous.redo_token:
        redo = redo_request(redo_token, graph)
        if redo.refusal is not None:
            events.append(_event("RedoRefused", redo.refusal, "Warning"))
        else:
            events.append(_event("Redoing", redo_message(redo)))

    queued = bool(spec.scheduling.queue_name) and not spec.run_policy.suspend
    ledger = _observe(previous, observed, now, queued, retry, redo.stages if redo is not None else ())
    if retry and ledger.retrying:
        names = ", ".join(sorted(ledger.retrying))
        events.append(_event("Retrying", f"retrying failed stages {names} ({ANNOTATION_RETRY}={token})"))

    # What to start.
    suspended = spec.run_policy.suspend
    create: list[Stage] = []
    if not (ledger.failed or suspended or refused):
        done = [s for s in graph.stages if s.name in ledger.succeeded]
        begun = [s for s in graph.stages if s.name in ledger.busy]
        create = graph.ready(done, begun)
    previously_requested = {r.name for r in previous.requested_stages}
    previous_entries = {e.name: e for e in previous.stages}
    for stage in create:
        prev = ledger.entries.get(stage.name) or previous_entries.get(stage.name)
        retries = (prev.retries if prev else 0) + (1 if stage.name in ledger.retrying else 0)
        ledger.retrying.discard(stage.name)
        ledger.requested[stage.name] = rfc3339(now)
        name = job_name(manifest.name, stage)
        ledger.entries[stage.name] = StageStatus(name=stage.name, phase=StagePhase.CREATING, job=name, retries=retries)
        if stage.name not in previously_requested:
            events.append(_event("StageStarted", f"stage {stage.name} started: job {name}"))

    # Suspend or resume what runs.
    live = [j for j in observed if not j.deleting and j.phase not in {JobPhase.SUCCEEDED, JobPhase.FAILED}]
    suspend = tuple(j.name for j in live if suspended and j.phase is not JobPhase.SUSPENDED)
    resume = tuple(
        j.name for j in live if not suspended and not spec.scheduling.queue_name and j.phase is JobPhase.SUSPENDED
    )

    # Stage transitions.
    for name in sorted(ledger.succeeded - set(previous.succeeded_stages)):
        events.append(_event("StageSucceeded", f"stage {name} succeeded"))
    for name in sorted(ledger.failed - set(previous.failed_stages)):
        events.append(_event("StageFailed", _failure_message(ledger.entries.get(name), name), "Warning"))

    status = _status(
        manifest=manifest,
        graph=graph,
        ledger=ledger,
        previous=previous,
        generation=generation,
        now=now,
        accepted=(accepted_hash, accepted),
        refusal=refusal_message(changes) if refused else None,
        warnings=warnings,
    )
    milestones = _condition_events(previous, status)
    leading = [e for e in milestones if e.reason in _LEADING]
    events = leading + events + [e for e in milestones if e.reason not in _LEADING]
    return Plan(
        create=tuple(create),
        redo=frozenset(stage for stage in create if stage.name in ledger.redoing),
        suspend=suspend,
        resume=resume,
        delete=tuple(ledger.delete),
        status=status,
        events=tuple(events),
    )


def _failure_message(entry: StageStatus | None, name: str) -> str:
    reason = entry.reason if entry is not None and entry.reason else "unknown reason"
    message = f"stage {name} failed: {reason}"
    if entry is not None and entry.message:
        message += f"; last log lines: {entry.message}"
    return message


def _all_done(graph: StageGraph, kind: StageKind, succeeded: set[str]) -> tuple[int, int]:
    names = [s.name for s in graph.stages if s.kind is kind]
    return sum(n in succeeded for n in names), len(names)


def round_text(graph: StageGraph, succeeded: set[str]) -> str:
    """``k/T``: weak rounds done by the slowest seed, of the rounds each seed trains."""
    per_seed: dict[int | None, list[bool]] = {}
    for stage in graph.stages:
        if stage.kind is StageKind.WEAK:
            per_seed.setdefault(stage.seed, []).append(stage.name in succeeded)
    done = min((sum(flags) for flags in per_seed.values()), default=0)
    total = max((len(flags) for flags in per_seed.values()), default=0)
    return f"{done}/{total}"


def _status(
    *,
    manifest: ExperimentManifest,
    graph: StageGraph,
    ledger: _Ledger,
    previous: ExperimentStatus,
    generation: int | None,
    now: datetime,
    accepted: tuple[str | None, dict[str, Any] | None],
    refusal: str | None,
    warnings: Sequence[Problem],
) -> ExperimentStatus:
    spec = manifest.spec
    order = graph.names()
    succeeded, failed = ledger.succeeded, ledger.failed
    report_done = "report" in succeeded
    results = ledger.results
    if results is None and "report" not in ledger.redoing:  # a report being redone has no results yet
        results = previous.results
    suspended = spec.run_policy.suspend and not report_done
    failed_first = next((n for n in order if n in failed), min(failed, default=None))
    entries = list(ledger.entries.values())
    active = [e.name for e in entries if e.phase in _ACTIVE or e.phase in _AGAIN]

    def cond(conditions: list[Any], type_: ConditionType, ok: bool, yes: str, no: str, message: str) -> list[Any]:
        return set_condition(conditions, type_, ok, yes if ok else no, message, now, generation)

    c = list(previous.conditions)
    accept_note = "; ".join(str(w) for w in warnings) or f"{len(order)} stages for seeds {spec.seeds}"
    c = cond(c, ConditionType.ACCEPTED, True, "SpecValid", "InvalidSpec", accept_note)
    c = cond(c, ConditionType.SPEC_UP_TO_DATE, refusal is None, "AsAccepted", "SpecChangeRefused", refusal or "")
    k, n = _all_done(graph, StageKind.WEAK, succeeded)
    c = cond(c, ConditionType.WEAK_TRAINED, k == n, "AllRoundsTrained", "RoundsRemaining", f"{k}/{n} weak stages")
    k, n = _all_done(graph, StageKind.AGGREGATE, succeeded)
    c = cond(c, ConditionType.AGGREGATED, k == n, "EnsembleAggregated", "Waiting", f"{k}/{n} aggregate stages")
    k, n = _all_done(graph, StageKind.STRONG, succeeded)
    c = cond(c, ConditionType.STRONG_TRAINED, k == n, "StudentsTrained", "Waiting", f"{k}/{n} strong stages")
    failure = _failure_message(ledger.entries.get(failed_first), failed_first) if failed_first else ""
    if len(failed) > 1:
        failure += f" (and {len(failed) - 1} more: {', '.join(sorted(failed - {failed_first or ''}))})"
    c = cond(c, ConditionType.FAILED, bool(failed), "StageFailed", "NoFailure", failure)
    pgr = pgr_text(results)
    done_note = f"report ready; EnsemW2S PGR vs weak: {pgr or 'n/a'}" if report_done else ""
    c = cond(
        c,
        ConditionType.SUCCEEDED,
        report_done,
        "ReportReady",
        "StageFailed" if failed else "InProgress",
        done_note or f"{len(succeeded & set(order))}/{len(order)} stages done",
    )
    suspend_note = "spec.runPolicy.suspend is true" if suspended else ""
    c = cond(c, ConditionType.SUSPENDED, suspended, "SuspendedByUser", "NotSuspended", suspend_note)

    message: str | None
    if report_done:
        phase, message = Phase.SUCCEEDED, done_note
    elif failed:
        phase, message = Phase.FAILED, failure.splitlines()[0] if failure else None
    elif suspended:
        phase, message = Phase.SUSPENDED, suspend_note
    elif succeeded or any(e.phase is StagePhase.RUNNING or e.phase in _AGAIN for e in entries):
        phase, message = Phase.RUNNING, None
    else:
        phase, message = Phase.PENDING, None
    if refusal is not None and phase not in {Phase.SUCCEEDED, Phase.FAILED}:
        message = "spec change refused: " + refusal.splitlines()[0]
    position = {name: i for i, name in enumerate(order)}
    current = max(active, key=lambda n: position.get(n, -1), default=None)
    kept, omitted = bound_stages(entries, order)
    counts = StageCounts(
        total=len(order),
        waiting=sum(name not in ledger.entries for name in order),
        active=sum(e.phase in _ACTIVE or e.phase in _AGAIN for e in entries),
        suspended=sum(e.phase is StagePhase.SUSPENDED for e in entries),
        succeeded=len(succeeded),
        failed=len(failed),
    )
    return ExperimentStatus(
        observed_generation=generation,
        phase=phase,
        message=message,
        conditions=c,
        stage=failed_first or current,
        round=round_text(graph, succeeded),
        pgr=pgr,
        stages=kept,
        stages_omitted=omitted,
        stage_counts=counts,
        succeeded_stages=sorted(succeeded, key=lambda n: (position.get(n, len(position)), n)),
        failed_stages=sorted(failed, key=lambda n: (position.get(n, len(position)), n)),
        retrying_stages=sorted(ledger.retrying),
        requested_stages=[StageRequest(name=n, requested_at=t) for n, t in sorted(ledger.requested.items())],
        retry_token=manifest.metadata.annotations.get(ANNOTATION_RETRY, previous.retry_token),
        redoing_stages=[ledger.redoing[n] for n in sorted(ledger.redoing)],
        redo_token=manifest.metadata.annotations.get(ANNOTATION_REDO, previous.redo_token),
        results=results,
        accepted_spec_hash=accepted[0],
        accepted_spec=accepted[1],
    )


_LEADING = {"Accepted", "SpecChangeRefused", "SpecRestored"}
_MILESTONES = (
    (ConditionType.WEAK_TRAINED, "WeakTrained", "every weak round of every seed is trained"),
    (ConditionType.AGGREGATED, "Aggregated", "the weak ensembles are aggregated"),
    (ConditionType.STRONG_TRAINED, "StrongTrained", "every strong student is trained"),
)


def _flipped(previous: ExperimentStatus, status: ExperimentStatus, type_: ConditionType, to: bool) -> bool:
    """The condition now has status ``to`` and did not before (absent counts as False)."""
    return is_true(status.conditions, type_) == to and is_true(previous.conditions, type_) != to


def _condition_events(previous: ExperimentStatus, status: ExperimentStatus) -> list[EventSpec]:
    def message(type_: ConditionType) -> str:
        found = status.condition(type_)
        return found.message if found is not None else ""

    events: list[EventSpec] = []
    if _flipped(previous, status, ConditionType.ACCEPTED, True):
        events.append(_event("Accepted", f"spec accepted: {message(ConditionType.ACCEPTED)}"))
    refused_before = previous.condition(ConditionType.SPEC_UP_TO_DATE)
    refused_now = status.condition(ConditionType.SPEC_UP_TO_DATE)
    if refused_now is not None and refused_now.reason == "SpecChangeRefused":
        if refused_before is None or refused_before.message != refused_now.message:
            events.append(_event("SpecChangeRefused", refused_now.message, "Warning"))
    elif refused_before is not None and refused_before.reason == "SpecChangeRefused":
        events.append(_event("SpecRestored", "the spec matches the accepted one again; stages start again"))
    for type_, reason, text in _MILESTONES:
        if _flipped(previous, status, type_, True):
            events.append(_event(reason, text))
    if _flipped(previous, status, ConditionType.SUSPENDED, True):
        events.append(_event("Suspended", "spec.runPolicy.suspend is true: unfinished stages are suspended"))
    elif previous.condition(ConditionType.SUSPENDED) is not None and _flipped(
        previous, status, ConditionType.SUSPENDED, False
    ):
        events.append(_event("Resumed", "spec.runPolicy.suspend is false: stages run again"))
    if _flipped(previous, status, ConditionType.SUCCEEDED, True):
        events.append(_event("Succeeded", message(ConditionType.SUCCEEDED)))
    return events


__all__ = [
    "CREATE_GRACE",
    "MUTABLE_FIELDS",
    "EventSpec",
    "Plan",
    "changed_fields",
    "fixed_spec",
    "plan_reconcile",
    "plan_rejected",
    "spec_hash",
]
