"""plan_reconcile on the happy path: what starts when, conditions, events once, idempotence, bounds."""

from __future__ import annotations

from collections import Counter

import pytest
from ensemw2s.operator.naming import job_name
from ensemw2s.operator.observe import JobPhase
from ensemw2s.operator.plan import CREATE_GRACE, plan_reconcile
from ensemw2s.operator.status_model import ExperimentStatus, pgr_text
from ensemw2s.spec import Stage, StageKind, StrongVariant, build_stage_graph
from ensemw2s.spec.results import ExperimentResults, PGRs, SeedResults

NEW = ExperimentStatus()
PREPARE = Stage(StageKind.PREPARE, 1)
WEAK0 = Stage(StageKind.WEAK, 1, round=0)
WEAK1 = Stage(StageKind.WEAK, 1, round=1)
CEILING = Stage(StageKind.STRONG, 1, variant=StrongVariant.CEILING)
W2S = Stage(StageKind.STRONG, 1, variant=StrongVariant.W2S)
REPORT = Stage(StageKind.REPORT)
RESULTS = ExperimentResults(experiment="exp", mean_pgr=PGRs(ensemw2s_vs_weak=0.4712, w2s_vs_weak=0.3))
"""The report's results; its summary carries them as JSON (camelCase), the status as the typed model."""
RESULTS_JSON = RESULTS.model_dump(mode="json", by_alias=True)


def conditions(status):
    return {c["type"]: c for c in status.to_json_dict()["conditions"]}


def reasons(plan):
    return [e.reason for e in plan.events]


def run_to_completion(manifest, seen, summary_for, at, *, limit=60):
    """Drive the plan like the runtime and a kubelet would: created Jobs run, then succeed."""
    status = NEW
    jobs: dict[Stage, JobPhase] = {}
    plans = []
    for step in range(limit):
        observed = [
            seen(s, p, summary=summary_for(s, results=RESULTS_JSON) if s.kind is StageKind.REPORT else None)
            for s, p in jobs.items()
        ]
        plan = plan_reconcile(manifest, observed, status, 1, at(10 * step))
        plans.append(plan)
        status = plan.status
        jobs = {s: JobPhase.SUCCEEDED for s in jobs} | {s: JobPhase.RUNNING for s in plan.create}
        if status.to_json_dict()["phase"] == "Succeeded":
            break
    return plans


def test_first_plan_accepts_and_starts_prepare(manifest, at):
    plan = plan_reconcile(manifest, [], NEW, 1, at(0))
    assert plan.create == (PREPARE,)
    assert (plan.suspend, plan.resume, plan.delete) == ((), (), ())
    assert reasons(plan) == ["Accepted", "StageStarted"]
    assert plan.events[1].message == "stage prepare-s1 started: job exp-prepare-s1"
    status = plan.status
    assert status.to_json_dict()["phase"] == "Pending" and status.to_json_dict()["observedGeneration"] == 1
    assert conditions(status)["Accepted"]["status"] == "True"
    assert conditions(status)["SpecUpToDate"]["status"] == "True"
    assert status.to_json_dict()["acceptedSpecHash"] and status.to_json_dict()["acceptedSpec"]["weak"]["rounds"] == 2
    assert status.to_json_dict()["stages"] == [
        {
            "name": "prepare-s1",
            "phase": "Creating",
            "job": "exp-prepare-s1",
            "attempts": 0,
            "retries": 0,
            "startTime": None,
            "completionTime": None,
            "reason": None,
            "message": None,
            "summary": None,
        }
    ]
    assert (status.round, status.stage, status.pgr) == ("0/2", "prepare-s1", None)


def test_planning_twice_on_the_same_observation_creates_and_announces_nothing(manifest, at):
    first = plan_reconcile(manifest, [], NEW, 1, at(0))
    again = plan_reconcile(manifest, [], first.status, 1, at(5))
    assert again.create == () and again.events == ()
    assert again.status.to_json_dict()["stages"] == first.status.to_json_dict()["stages"]


def test_a_request_not_seen_after_the_grace_period_is_repeated_silently(manifest, at):
    first = plan_reconcile(manifest, [], NEW, 1, at(0))
    later = plan_reconcile(manifest, [], first.status, 1, at(CREATE_GRACE.total_seconds() + 1))
    assert later.create == (PREPARE,) and later.events == ()


def test_ceiling_starts_beside_the_weak_rounds(manifest, seen, at):
    first = plan_reconcile(manifest, [], NEW, 1, at(0))
    plan = plan_reconcile(manifest, [seen(PREPARE, JobPhase.SUCCEEDED)], first.status, 1, at(10))
    assert plan.create == (WEAK0, CEILING)
    assert reasons(plan) == ["StageStarted", "StageStarted", "StageSucceeded"]
    assert plan.status.to_json_dict()["phase"] == "Running"
    prepare = next(s for s in plan.status.to_json_dict()["stages"] if s["name"] == "prepare-s1")
    assert prepare["phase"] == "Succeeded" and prepare["summary"]["metrics"] == {"accuracy": 0.8}


def test_w2s_starts_after_round_zero_and_aggregate_after_all_rounds(manifest, seen, at):
    observed = [seen(PREPARE, JobPhase.SUCCEEDED), seen(WEAK0, JobPhase.SUCCEEDED), seen(CEILING, JobPhase.RUNNING)]
    plan = plan_reconcile(manifest, observed, NEW, 1, at(0))
    assert plan.create == (WEAK1, W2S)
    observed += [seen(WEAK1, JobPhase.SUCCEEDED), seen(W2S, JobPhase.RUNNING)]
    plan = plan_reconcile(manifest, observed, plan.status, 1, at(10))
    assert plan.create == (Stage(StageKind.AGGREGATE, 1),)
    assert conditions(plan.status)["WeakTrained"]["status"] == "True"
    assert "WeakTrained" in reasons(plan)
    assert plan.status.to_json_dict()["round"] == "2/2"


def test_a_whole_experiment_runs_once_with_each_event_once(manifest, seen, summary_for, at):
    plans = run_to_completion(manifest, seen, summary_for, at)
    final = plans[-1].status
    assert final.to_json_dict()["phase"] == "Succeeded"
    assert final.results == RESULTS and final.pgr == "0.47"
    assert final.to_json_dict()["results"] == RESULTS_JSON
    assert final.to_json_dict()["stage"] is None and final.to_json_dict()["round"] == "2/2"
    for type_ in ("Accepted", "WeakTrained", "Aggregated", "StrongTrained", "Succeeded"):
        assert conditions(final)[type_]["status"] == "True", type_
    for type_ in ("Failed", "Suspended"):
        assert conditions(final)[type_]["status"] == "False", type_
    created = [s for p in plans for s in p.create]
    graph = build_stage_graph(manifest.spec)
    assert sorted(created) == sorted(graph.stages)  # every stage exactly once
    events = Counter((e.reason, e.message) for p in plans for e in p.events)
    assert max(events.values()) == 1
    by_reason = Counter(reason for reason, _ in events)
    assert by_reason["StageStarted"] == by_reason["StageSucceeded"] == len(graph.stages)
    assert by_reason["Succeeded"] == by_reason["Accepted"] == 1
    assert final.to_json_dict()["succeededStages"] == graph.names()
    assert final.to_json_dict()["stageCounts"] == {
        "total": 8,
        "waiting": 0,
        "active": 0,
        "suspended": 0,
        "succeeded": 8,
        "failed": 0,
    }


def test_after_success_nothing_more_happens_even_when_jobs_are_gone(manifest, seen, summary_for, at):
    final = run_to_completion(manifest, seen, summary_for, at)[-1].status
    for observed in ([], [seen(REPORT, JobPhase.SUCCEEDED, summary=summary_for(REPORT))]):
        plan = plan_reconcile(manifest, observed, final, 1, at(5000))
        assert plan.create == () and plan.events == ()
        assert plan.status.phase == "Succeeded" and plan.status.results == RESULTS


def test_bagging_starts_every_weak_round_at_once(make_manifest, seen, at):
    manifest = make_manifest(spec={"ensemble": {"method": "bagging"}, "weak": {"model": "tiny-weak", "rounds": 5}})
    plan = plan_reconcile(manifest, [seen(PREPARE, JobPhase.SUCCEEDED)], NEW, 1, at(0))
    assert [s.round for s in plan.create if s.kind is StageKind.WEAK] == [0, 1, 2, 3, 4]


def test_long_names_and_30_rounds_stay_within_dns_limits(make_manifest, seen, at):
    name = "an-experiment-name-that-is-exactly-sixty-three-characters-long-x"[-63:]
    assert len(name) == 63
    manifest = make_manifest(
        metadata={"name": name},
        spec={"seeds": [1, 2], "ensemble": {"method": "bagging"}, "weak": {"model": "tiny-weak", "rounds": 30}},
    )
    observed = [seen(Stage(StageKind.PREPARE, s), JobPhase.SUCCEEDED, experiment=name) for s in (1, 2)]
    plan = plan_reconcile(manifest, observed, NEW, 1, at(0))
    assert len(plan.create) == 2 * 31
    names = [job_name(name, s) for s in plan.create]
    assert all(len(n) <= 63 for n in names) and len(set(names)) == len(names)
    assert all(len(s["job"]) <= 63 for s in plan.status.to_json_dict()["stages"] if s["job"])


def test_a_large_experiment_keeps_the_status_bounded_and_the_ledger_complete(make_manifest, seen, at):
    manifest = make_manifest(
        spec={
            "seeds": list(range(16)),
            "ensemble": {"method": "bagging"},
            "weak": {"model": "tiny-weak", "rounds": 30},
        }
    )
    graph = build_stage_graph(manifest.spec)
    done = [s for s in graph.stages if s.kind in {StageKind.PREPARE, StageKind.WEAK}]
    plan = plan_reconcile(manifest, [seen(s, JobPhase.SUCCEEDED) for s in done], NEW, 1, at(0))
    status = plan.status
    assert len(status.to_json_dict()["stages"]) == 64
    assert status.to_json_dict()["stagesOmitted"] == len(done) + len(plan.create) - 64
    assert len(status.to_json_dict()["succeededStages"]) == len(done)
    phases = Counter(s["phase"] for s in status.to_json_dict()["stages"])
    assert phases == {"Creating": len(plan.create), "Succeeded": 64 - len(plan.create)}  # unfinished first
    # The Jobs are gone (TTL): nothing reruns.
    again = plan_reconcile(manifest, [seen(s, JobPhase.RUNNING) for s in plan.create], status, 1, at(10))
    assert again.create == ()


def test_observed_generation_follows_the_resource(manifest, at):
    assert plan_reconcile(manifest, [], NEW, 7, at(0)).status.observed_generation == 7
    assert plan_reconcile(manifest, [], NEW, None, at(0)).status.observed_generation is None


def test_warnings_are_in_the_accepted_message(make_manifest, at):
    manifest = make_manifest(spec={"weak": {"model": "minilm"}, "strong": {"model": "tiny-strong"}})
    accepted = conditions(plan_reconcile(manifest, [], NEW, 1, at(0)).status)["Accepted"]
    assert accepted["status"] == "True"
    assert "spec.strong.model: is not bigger than the weak model 'minilm'" in accepted["message"]


def seeds_with_pgrs(*values):
    return [SeedResults(seed=i, chosen_round=1, pgr=PGRs(ensemw2s_vs_weak=v)) for i, v in enumerate(values)]


@pytest.mark.parametrize(
    ("results", "text"),
    [
        (None, None),
        (ExperimentResults(experiment="e", mean_pgr=PGRs(ensemw2s_vs_weak=0.4712)), "0.47"),
        (ExperimentResults(experiment="e", mean_pgr=PGRs(ensemw2s_vs_weak=None)), "n/a"),
        # n/a in the report is n/a in kubectl too, whatever the seeds' own PGRs
        (ExperimentResults(experiment="e", seeds=seeds_with_pgrs(0.2, 0.4)), "n/a"),
        (ExperimentResults(experiment="e", seeds=seeds_with_pgrs(None)), "n/a"),
        (ExperimentResults(experiment="e", mean_pgr=PGRs(ensemw2s_vs_weak=-1.5)), "-1.50"),
    ],
)
def test_pgr_text(results, text):
    assert pgr_text(results) == text
