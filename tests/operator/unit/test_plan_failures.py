"""plan_reconcile when things go wrong or are paused: every stage outcome, failure, retry, suspend."""

from __future__ import annotations

import pytest
from ensemw2s.operator.naming import ANNOTATION_RETRY, job_name
from ensemw2s.operator.observe import JobPhase
from ensemw2s.operator.plan import plan_reconcile
from ensemw2s.operator.status_model import ExperimentStatus
from ensemw2s.spec import Stage, StageKind, StrongVariant, build_stage_graph, parse_spec

NEW = ExperimentStatus()
PREPARE = Stage(StageKind.PREPARE, 1)
WEAK0 = Stage(StageKind.WEAK, 1, round=0)
WEAK1 = Stage(StageKind.WEAK, 1, round=1)
CEILING = Stage(StageKind.STRONG, 1, variant=StrongVariant.CEILING)
LOG = "Traceback (most recent call last):\ntorch.OutOfMemoryError: CUDA out of memory"
GRAPH = build_stage_graph(
    parse_spec(
        {
            "seeds": [1],
            "dataset": {"name": "synthetic-sentiment", "sizes": {"easy": 6, "val": 2, "hardTrain": 6, "hardTest": 4}},
            "weak": {"model": "tiny-weak", "rounds": 2},
            "strong": {"model": "minilm"},
        }
    )
)


def conditions(status):
    return {c["type"]: c for c in status.to_json_dict()["conditions"]}


def entry(status, name):
    return next(s for s in status.to_json_dict()["stages"] if s["name"] == name)


def reasons(plan):
    return [e.reason for e in plan.events]


@pytest.mark.parametrize("outcome", list(JobPhase))
@pytest.mark.parametrize("index", range(len(GRAPH.stages)))
def test_every_stage_outcome(manifest, seen, at, index, outcome):
    """Stages before ``index`` (graph order) succeeded; stage ``index`` has ``outcome``."""
    assert build_stage_graph(manifest.spec) == GRAPH
    stage = GRAPH.stages[index]
    before = list(GRAPH.stages[:index])
    observed = [seen(s, JobPhase.SUCCEEDED) for s in before]
    observed.append(seen(stage, outcome, reason="OOMKilled" if outcome is JobPhase.FAILED else None, log_tail=LOG))
    plan = plan_reconcile(manifest, observed, NEW, 1, at(0))
    status = plan.status
    succeeded = set(before) | ({stage} if outcome is JobPhase.SUCCEEDED else set())
    for created in plan.create:
        assert created not in before and created != stage
        assert set(GRAPH.dependencies[created]) <= succeeded
    assert entry(status, stage.name)["phase"] == outcome.value
    assert entry(status, stage.name)["job"] == job_name("exp", stage)
    if outcome is JobPhase.FAILED:
        assert plan.create == ()
        assert status.to_json_dict()["phase"] == "Failed" and status.to_json_dict()["stage"] == stage.name
        failed = conditions(status)["Failed"]
        assert failed["status"] == "True" and failed["reason"] == "StageFailed"
        assert failed["message"] == f"stage {stage.name} failed: OOMKilled; last log lines: {LOG}"
        assert conditions(status)["Succeeded"]["reason"] == "StageFailed"
        [event] = [e for e in plan.events if e.reason == "StageFailed"]
        assert event.type == "Warning" and event.message == failed["message"]
    else:
        assert plan.create == tuple(GRAPH.ready(succeeded, [*before, stage]))
        assert conditions(status)["Failed"]["status"] == "False"
    if outcome is JobPhase.SUCCEEDED:
        assert status.to_json_dict()["phase"] == ("Succeeded" if stage.kind is StageKind.REPORT else "Running")
    if outcome in {JobPhase.RUNNING, JobPhase.PENDING}:
        assert status.to_json_dict()["phase"] == ("Running" if before or outcome is JobPhase.RUNNING else "Pending")
        active = [stage.name, *(c.name for c in plan.create)]
        assert status.to_json_dict()["stage"] == max(active, key=GRAPH.names().index)
    assert plan.resume == ((job_name("exp", stage),) if outcome is JobPhase.SUSPENDED else ())
    assert plan.suspend == () and plan.delete == ()


def failed_run(manifest, seen, at):
    """prepare done, weak-r0 failed (OOM) while the ceiling runs."""
    observed = [
        seen(PREPARE, JobPhase.SUCCEEDED),
        seen(WEAK0, JobPhase.FAILED, attempts=3, reason="OOMKilled", log_tail=LOG),
        seen(CEILING, JobPhase.RUNNING),
    ]
    return observed, plan_reconcile(manifest, observed, NEW, 1, at(0))


def test_a_failure_stops_new_stages_but_lets_running_ones_finish(manifest, seen, at):
    observed, plan = failed_run(manifest, seen, at)
    assert plan.create == () and plan.suspend == () and plan.delete == ()
    assert entry(plan.status, "weak-s1-r0")["attempts"] == 3
    assert entry(plan.status, "strong-s1-ceiling")["phase"] == "Running"
    assert plan.status.to_json_dict()["failedStages"] == ["weak-s1-r0"]
    assert (
        plan.status.to_json_dict()["message"]
        == "stage weak-s1-r0 failed: OOMKilled; last log lines: Traceback (most recent call last):"
    )
    # Same observation again: no duplicate event.
    again = plan_reconcile(manifest, observed, plan.status, 1, at(10))
    assert again.events == () and again.create == ()
    # The ceiling finishes; the experiment stays failed.
    observed[2] = seen(CEILING, JobPhase.SUCCEEDED)
    later = plan_reconcile(manifest, observed, again.status, 1, at(20))
    assert reasons(later) == ["StageSucceeded"] and later.create == ()
    assert later.status.to_json_dict()["phase"] == "Failed"


def test_a_failed_stage_stays_failed_when_its_job_disappears(manifest, seen, at):
    observed, plan = failed_run(manifest, seen, at)
    gone = plan_reconcile(manifest, [observed[0], observed[2]], plan.status, 1, at(10))
    assert gone.create == () and gone.events == ()
    assert gone.status.to_json_dict()["phase"] == "Failed"
    assert entry(gone.status, "weak-s1-r0")["reason"] == "OOMKilled"
    assert "last log lines" in conditions(gone.status)["Failed"]["message"]


def test_two_failures_are_both_reported(manifest, seen, at):
    observed = [
        seen(PREPARE, JobPhase.SUCCEEDED),
        seen(WEAK0, JobPhase.FAILED, reason="exit code 1"),
        seen(CEILING, JobPhase.FAILED, reason="DeadlineExceeded"),
    ]
    plan = plan_reconcile(manifest, observed, NEW, 1, at(0))
    assert reasons(plan).count("StageFailed") == 2
    message = conditions(plan.status)["Failed"]["message"]
    assert message == "stage weak-s1-r0 failed: exit code 1 (and 1 more: strong-s1-ceiling)"


def test_retry_reruns_only_the_failed_stage(make_manifest, seen, at):
    manifest = make_manifest()
    observed, failed = failed_run(manifest, seen, at)
    retry = make_manifest(metadata={"annotations": {ANNOTATION_RETRY: "1"}})

    plan = plan_reconcile(retry, observed, failed.status, 2, at(10))
    assert plan.delete == ("exp-weak-s1-r0",) and plan.create == ()
    assert reasons(plan) == ["Retrying"]
    assert plan.status.to_json_dict()["phase"] == "Running" and conditions(plan.status)["Failed"]["status"] == "False"
    assert entry(plan.status, "weak-s1-r0")["phase"] == "Retrying"

    # The delete did not happen yet: ask again, announce nothing.
    again = plan_reconcile(retry, observed, plan.status, 2, at(15))
    assert again.delete == ("exp-weak-s1-r0",) and again.events == ()

    # Being deleted: wait.
    observed[1] = seen(WEAK0, JobPhase.FAILED, deleting=True)
    waiting = plan_reconcile(retry, observed, again.status, 2, at(20))
    assert (waiting.delete, waiting.create, waiting.events) == ((), (), ())

    # Gone: recreate it, and only it.
    recreated = plan_reconcile(retry, [observed[0], observed[2]], waiting.status, 2, at(30))
    assert recreated.create == (WEAK0,)
    assert reasons(recreated) == ["StageStarted"]
    assert entry(recreated.status, "weak-s1-r0")["retries"] == 1
    assert (
        recreated.status.to_json_dict()["retryingStages"] == [] and recreated.status.to_json_dict()["retryToken"] == "1"
    )

    # It runs and keeps its retry count; then it fails again: a new failure, a new event.
    running = plan_reconcile(retry, [observed[0], seen(WEAK0, JobPhase.RUNNING)], recreated.status, 2, at(40))
    assert entry(running.status, "weak-s1-r0")["retries"] == 1
    refailed = plan_reconcile(
        retry, [observed[0], seen(WEAK0, JobPhase.FAILED, reason="exit code 1")], running.status, 2, at(50)
    )
    assert reasons(refailed) == ["StageFailed"] and refailed.delete == ()
    assert refailed.status.to_json_dict()["phase"] == "Failed"


def test_retry_without_failures_only_records_the_token(make_manifest, seen, at):
    manifest = make_manifest(metadata={"annotations": {ANNOTATION_RETRY: "x"}})
    plan = plan_reconcile(manifest, [seen(PREPARE, JobPhase.RUNNING)], NEW, 1, at(0))
    assert plan.delete == () and "Retrying" not in reasons(plan)
    assert plan.status.to_json_dict()["retryToken"] == "x"


def test_retry_of_a_failed_stage_whose_job_is_gone(make_manifest, seen, at):
    observed, failed = failed_run(make_manifest(), seen, at)
    retry = make_manifest(metadata={"annotations": {ANNOTATION_RETRY: "now"}})
    plan = plan_reconcile(retry, [observed[0], observed[2]], failed.status, 2, at(10))
    assert plan.create == (WEAK0,) and plan.delete == ()
    assert reasons(plan) == ["Retrying", "StageStarted"]


def test_a_deleted_running_job_is_recreated(manifest, seen, at):
    plan = plan_reconcile(manifest, [seen(PREPARE, JobPhase.RUNNING)], NEW, 1, at(0))
    gone = plan_reconcile(manifest, [], plan.status, 1, at(10))
    assert gone.create == (PREPARE,)


def test_a_succeeded_job_removed_by_ttl_is_not_rerun(manifest, seen, at):
    plan = plan_reconcile(manifest, [seen(PREPARE, JobPhase.SUCCEEDED)], NEW, 1, at(0))
    gone = plan_reconcile(
        manifest, [seen(WEAK0, JobPhase.RUNNING), seen(CEILING, JobPhase.RUNNING)], plan.status, 1, at(10)
    )
    assert gone.create == () and gone.events == ()
    assert entry(gone.status, "prepare-s1")["phase"] == "Succeeded"


def test_a_job_being_deleted_blocks_its_recreation(manifest, seen, at):
    plan = plan_reconcile(manifest, [seen(PREPARE, JobPhase.RUNNING, deleting=True)], NEW, 1, at(0))
    assert plan.create == ()


def test_attempts_are_reported(manifest, seen, at):
    plan = plan_reconcile(manifest, [seen(PREPARE, JobPhase.RUNNING, attempts=2)], NEW, 1, at(0))
    assert entry(plan.status, "prepare-s1")["attempts"] == 2


# --- suspend and resume ---------------------------------------------------------------------------


def suspended(make_manifest, value=True, **scheduling):
    spec = {"runPolicy": {"suspend": value}}
    if scheduling:
        spec["scheduling"] = scheduling
    return make_manifest(spec=spec)


def test_suspend_stops_everything_unfinished(make_manifest, seen, at):
    manifest = suspended(make_manifest)
    observed = [seen(PREPARE, JobPhase.SUCCEEDED), seen(WEAK0, JobPhase.RUNNING), seen(CEILING, JobPhase.PENDING)]
    plan = plan_reconcile(manifest, observed, NEW, 1, at(0))
    assert plan.suspend == ("exp-weak-s1-r0", "exp-strong-s1-ceiling")
    assert plan.create == () and plan.resume == ()
    assert plan.status.to_json_dict()["phase"] == "Suspended"
    assert conditions(plan.status)["Suspended"]["status"] == "True"
    assert "Suspended" in reasons(plan)
    # Once the Jobs are suspended: nothing more to do, nothing more to say.
    observed[1:] = [seen(WEAK0, JobPhase.SUSPENDED), seen(CEILING, JobPhase.SUSPENDED)]
    again = plan_reconcile(manifest, observed, plan.status, 1, at(10))
    assert (again.suspend, again.create, again.events) == ((), (), ())


def test_resume_unsuspends_and_continues(make_manifest, seen, at):
    observed = [seen(PREPARE, JobPhase.SUCCEEDED), seen(WEAK0, JobPhase.SUSPENDED), seen(CEILING, JobPhase.SUSPENDED)]
    paused = plan_reconcile(suspended(make_manifest), observed, NEW, 1, at(0))
    plan = plan_reconcile(suspended(make_manifest, False), observed, paused.status, 2, at(10))
    assert plan.resume == ("exp-weak-s1-r0", "exp-strong-s1-ceiling")
    assert plan.status.to_json_dict()["phase"] == "Running"
    assert conditions(plan.status)["Suspended"]["status"] == "False"
    assert "Resumed" in reasons(plan)


def test_an_experiment_created_suspended_starts_nothing(make_manifest, at):
    plan = plan_reconcile(suspended(make_manifest), [], NEW, 1, at(0))
    assert plan.create == () and plan.status.to_json_dict()["phase"] == "Suspended"
    assert reasons(plan) == ["Accepted", "Suspended"]
    started = plan_reconcile(suspended(make_manifest, False), [], plan.status, 2, at(10))
    assert started.create == (PREPARE,)
    assert reasons(started) == ["StageStarted", "Resumed"]


def test_kueue_admits_queued_jobs_the_operator_does_not_resume_them(make_manifest, seen, at):
    manifest = suspended(make_manifest, False, queueName="gpu")
    plan = plan_reconcile(manifest, [seen(PREPARE, JobPhase.SUSPENDED)], NEW, 1, at(0))
    assert plan.resume == ()
    assert entry(plan.status, "prepare-s1")["phase"] == "Queued"
    assert plan.status.to_json_dict()["phase"] == "Pending"


def test_suspending_a_queued_experiment_suspends_its_admitted_jobs(make_manifest, seen, at):
    manifest = suspended(make_manifest, True, queueName="gpu")
    plan = plan_reconcile(manifest, [seen(PREPARE, JobPhase.RUNNING)], NEW, 1, at(0))
    assert plan.suspend == ("exp-prepare-s1",)
    assert plan.status.to_json_dict()["phase"] == "Suspended"
