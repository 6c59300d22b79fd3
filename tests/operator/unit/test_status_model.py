"""The status model: standard conditions, transition times, bounded stage details, tolerant parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from ensemw2s.operator.observe import report_results
from ensemw2s.operator.status_model import (
    MAX_STAGE_DETAILS,
    ConditionStatus,
    ConditionType,
    ExperimentStatus,
    Phase,
    StagePhase,
    StageStatus,
    bound_stages,
    parse_status,
    pgr_text,
    rfc3339,
    set_condition,
)
from ensemw2s.spec import Stage
from ensemw2s.spec.results import ExperimentResults, PGRs, SeedResults

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)


def test_a_new_condition_gets_the_standard_shape():
    [condition] = set_condition([], ConditionType.SUSPENDED, False, "NotSuspended", "", T0, 3)
    assert condition.model_dump(mode="json", by_alias=True) == {
        "type": "Suspended",
        "status": "False",
        "reason": "NotSuspended",
        "message": "",
        "lastTransitionTime": "2024-05-01T12:00:00Z",
        "observedGeneration": 3,
    }


def test_transition_time_only_changes_when_the_status_flips():
    first = set_condition([], ConditionType.WEAK_TRAINED, False, "RoundsRemaining", "0/4", T0, 1)
    same = set_condition(first, ConditionType.WEAK_TRAINED, False, "RoundsRemaining", "2/4", LATER, 2)
    assert same[0].last_transition_time == "2024-05-01T12:00:00Z"
    assert (same[0].message, same[0].observed_generation) == ("2/4", 2)
    flipped = set_condition(same, ConditionType.WEAK_TRAINED, True, "AllRoundsTrained", "4/4", LATER, 2)
    assert flipped[0].status is ConditionStatus.TRUE
    assert flipped[0].last_transition_time == "2024-05-01T12:05:00Z"


def test_setting_one_condition_keeps_the_others_in_place():
    conditions = set_condition([], ConditionType.ACCEPTED, True, "SpecValid", "", T0, 1)
    conditions = set_condition(conditions, ConditionType.FAILED, False, "NoFailure", "", T0, 1)
    conditions = set_condition(conditions, ConditionType.ACCEPTED, False, "InvalidSpec", "bad", LATER, 2)
    assert [c.type for c in conditions] == ["Accepted", "Failed"]
    assert conditions[0].reason == "InvalidSpec"


def test_rfc3339():
    assert rfc3339(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05Z"
    assert rfc3339(datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))) == "2024-01-02T03:04:05Z"


def entry(i: int, phase: StagePhase, finished: int | None = None) -> StageStatus:
    done = None if finished is None else f"2024-05-01T12:{finished // 60:02d}:{finished % 60:02d}Z"
    return StageStatus(name=f"weak-s1-r{i}", phase=phase, completion_time=done)


def test_small_experiments_keep_every_stage_in_graph_order():
    order = [f"weak-s1-r{i}" for i in range(10)]
    entries = [entry(i, StagePhase.SUCCEEDED, i) for i in reversed(range(10))]
    kept, omitted = bound_stages(entries, order)
    assert [e.name for e in kept] == order and omitted == 0


def test_large_experiments_keep_failed_then_unfinished_then_newest_finished():
    order = [f"weak-s1-r{i}" for i in range(100)]
    entries = [entry(i, StagePhase.SUCCEEDED, i) for i in range(90)]
    entries += [entry(90, StagePhase.FAILED, 1), entry(91, StagePhase.RUNNING), entry(92, StagePhase.RETRYING)]
    kept, omitted = bound_stages(entries, order)
    names = [e.name for e in kept]
    assert len(kept) == MAX_STAGE_DETAILS and omitted == len(entries) - MAX_STAGE_DETAILS
    assert {"weak-s1-r90", "weak-s1-r91", "weak-s1-r92", "weak-s1-r89"} <= set(names)
    assert "weak-s1-r0" not in names  # the oldest finished stage goes first
    assert names == sorted(names, key=order.index)


def test_parse_status_tolerates_missing_unknown_and_broken_fields():
    assert parse_status(None) == ExperimentStatus()
    assert parse_status({}) == ExperimentStatus()
    status = parse_status({"phase": "Running", "kopf": {"progress": {}}, "succeededStages": ["prepare-s1"]})
    assert status.phase is Phase.RUNNING and status.succeeded_stages == ["prepare-s1"]
    broken = parse_status({"phase": "Exploded", "succeededStages": ["prepare-s1"], "stages": [{"bad": 1}]})
    assert broken.phase is Phase.PENDING and broken.succeeded_stages == ["prepare-s1"] and broken.stages == []


def test_status_json_is_camel_case_and_keeps_nulls_for_merge_patches():
    data = ExperimentStatus().to_json_dict()
    assert {"observedGeneration", "stageCounts", "succeededStages", "acceptedSpecHash"} <= set(data)
    assert data["results"] is None and data["pgr"] is None
    assert parse_status(data) == ExperimentStatus()


def test_results_are_the_typed_report_model_on_the_wire_and_back():
    results = ExperimentResults(
        experiment="exp", seeds=[SeedResults(seed=1, chosen_round=2)], mean_pgr=PGRs(ensemw2s_vs_weak=0.41)
    )
    status = ExperimentStatus(phase=Phase.SUCCEEDED, results=results, pgr=pgr_text(results))
    wire = status.to_json_dict()
    assert wire["results"]["meanPgr"]["ensemw2sVsWeak"] == 0.41 and wire["results"]["seeds"][0]["chosenRound"] == 2
    assert wire["pgr"] == "0.41"
    back = parse_status(wire)
    assert back.results == results and back.mean_pgrs() == PGRs(ensemw2s_vs_weak=0.41)


def test_results_this_operator_cannot_read_are_dropped_not_the_status():
    status = parse_status({"phase": "Succeeded", "results": {"experiment": "exp", "meanPgr": {"newBaseline": 0.1}}})
    assert status.phase is Phase.SUCCEEDED and status.results is None and status.mean_pgrs() is None


def test_report_results_from_a_summary(summary_for):
    report = Stage.parse("report")
    assert report_results(None) is None
    assert report_results(summary_for(report)) is None
    assert report_results(summary_for(report, results={"experiment": "exp", "meanPgr": {"w2sVsWeak": 0.3}})) == (
        ExperimentResults(experiment="exp", mean_pgr=PGRs(w2s_vs_weak=0.3))
    )
    assert report_results(summary_for(report, results={"experiment": "exp", "chosenRound": "x"})) is None
