"""plan_rejected and spec changes after start: what is refused, what is allowed, what is said."""

from __future__ import annotations

import pytest
from ensemw2s.operator.observe import JobPhase
from ensemw2s.operator.plan import plan_reconcile, plan_rejected
from ensemw2s.operator.spec_changes import MUTABLE_FIELDS, changed_fields, fixed_spec
from ensemw2s.operator.status_model import ExperimentStatus
from ensemw2s.spec import Stage, StageKind, StrongVariant, Target, problem, semantic_problems

NEW = ExperimentStatus()
PREPARE = Stage(StageKind.PREPARE, 1)
WEAK0 = Stage(StageKind.WEAK, 1, round=0)
CEILING = Stage(StageKind.STRONG, 1, variant=StrongVariant.CEILING)


def conditions(status):
    return {c["type"]: c for c in status.to_json_dict()["conditions"]}


def reasons(plan):
    return [e.reason for e in plan.events]


def started(make_manifest, seen, at):
    """An experiment whose prepare stage succeeded; returns the observation and the status."""
    observed = [seen(PREPARE, JobPhase.SUCCEEDED)]
    first = plan_reconcile(make_manifest(), observed, NEW, 1, at(0))
    observed += [seen(s, JobPhase.RUNNING) for s in first.create]
    return observed, plan_reconcile(make_manifest(), observed, first.status, 1, at(10)).status


# --- invalid specs --------------------------------------------------------------------------------

PROBLEMS = [
    problem("spec.dataset.name", "unknown dataset", "sciqq", "did you mean 'sciq'?"),
    problem("spec.storage", "needs pvc or uri on a cluster (stages share artifacts)"),
]


def test_rejected_spec_creates_nothing_and_says_why(at):
    plan = plan_rejected(PROBLEMS, 3, NEW, at(0))
    assert (plan.create, plan.suspend, plan.resume, plan.delete) == ((), (), (), ())
    status = plan.status
    assert status.to_json_dict()["phase"] == "Invalid" and status.to_json_dict()["observedGeneration"] == 3
    accepted = conditions(status)["Accepted"]
    assert (accepted["status"], accepted["reason"]) == ("False", "InvalidSpec")
    assert accepted["message"] == (
        "spec.dataset.name: unknown dataset (got 'sciqq'); did you mean 'sciq'?\n"
        "spec.storage: needs pvc or uri on a cluster (stages share artifacts)"
    )
    assert (
        status.to_json_dict()["message"]
        == "spec.dataset.name: unknown dataset (got 'sciqq'); did you mean 'sciq'? (and 1 more)"
    )
    [event] = plan.events
    assert (event.reason, event.type, event.message) == ("InvalidSpec", "Warning", accepted["message"])


def test_rejection_is_announced_once_per_distinct_problem(at):
    first = plan_rejected(PROBLEMS, 1, NEW, at(0))
    assert plan_rejected(PROBLEMS, 1, first.status, at(10)).events == ()
    other = plan_rejected(PROBLEMS[:1], 2, first.status, at(20))
    assert reasons(other) == ["InvalidSpec"]


def test_warnings_alone_do_not_reject(at):
    plan = plan_rejected([problem("spec.strong.model", "is small", warning=True)], 1, NEW, at(0))
    assert conditions(plan.status)["Accepted"]["message"] == "spec.strong.model: is small"


def test_reconcile_rejects_what_validation_rejects(make_manifest, at):
    manifest = make_manifest(spec={"dataset": {"name": "sciqq"}, "storage": {"pvc": None}})
    plan = plan_reconcile(manifest, [], NEW, 1, at(0))
    assert plan.create == () and plan.status.to_json_dict()["phase"] == "Invalid"
    expected = "\n".join(str(p) for p in semantic_problems(manifest.spec, Target.CLUSTER))
    assert conditions(plan.status)["Accepted"]["message"] == expected


def test_an_invalid_edit_keeps_the_progress_and_fixing_it_continues(make_manifest, seen, at):
    observed, status = started(make_manifest, seen, at)
    broken = plan_reconcile(make_manifest(spec={"dataset": {"name": "nope"}}), observed, status, 2, at(20))
    assert broken.status.to_json_dict()["phase"] == "Invalid"
    assert broken.status.to_json_dict()["succeededStages"] == ["prepare-s1"]
    fixed = plan_reconcile(make_manifest(), observed, broken.status, 3, at(30))
    assert fixed.status.to_json_dict()["phase"] == "Running"
    assert conditions(fixed.status)["Accepted"]["status"] == "True"
    assert reasons(fixed) == ["Accepted"]


# --- changes after start --------------------------------------------------------------------------


def test_changing_what_is_computed_is_refused_and_names_the_fields(make_manifest, seen, at):
    observed, status = started(make_manifest, seen, at)
    observed = [seen(PREPARE, JobPhase.SUCCEEDED), seen(WEAK0, JobPhase.SUCCEEDED), seen(CEILING, JobPhase.RUNNING)]
    changed = make_manifest(spec={"weak": {"model": "tiny-weak", "rounds": 3}, "dataset": {"sizes": {"easy": 99}}})
    plan = plan_reconcile(changed, observed, status, 2, at(20))
    assert plan.create == ()  # weak-r1 would be ready: not from a refused spec
    up_to_date = conditions(plan.status)["SpecUpToDate"]
    assert (up_to_date["status"], up_to_date["reason"]) == ("False", "SpecChangeRefused")
    lines = up_to_date["message"].splitlines()
    assert lines[0] == "spec.dataset.sizes.easy: cannot change after the experiment started, accepted 60 (got 99)"
    assert lines[1] == "spec.weak.rounds: cannot change after the experiment started, accepted 2 (got 3)"
    assert "revert these fields, or create a new experiment" in lines[2]
    assert conditions(plan.status)["Accepted"]["status"] == "True"
    assert plan.status.to_json_dict()["phase"] == "Running"
    assert plan.status.to_json_dict()["message"].startswith("spec change refused: spec.dataset.sizes.easy")
    assert plan.status.to_json_dict()["round"] == "1/2"  # the accepted graph
    [event] = [e for e in plan.events if e.reason == "SpecChangeRefused"]
    assert event.type == "Warning"
    # Still refused on the next pass: said once.
    again = plan_reconcile(changed, observed, plan.status, 2, at(30))
    assert again.events == () and again.create == ()
    # Reverted: the experiment goes on.
    reverted = plan_reconcile(make_manifest(), observed, again.status, 3, at(40))
    assert conditions(reverted.status)["SpecUpToDate"]["status"] == "True"
    assert reverted.create == (Stage(StageKind.WEAK, 1, round=1), Stage(StageKind.STRONG, 1, variant=StrongVariant.W2S))
    assert reasons(reverted)[0] == "SpecRestored"
    assert reverted.status.to_json_dict()["acceptedSpecHash"] == status.to_json_dict()["acceptedSpecHash"]


@pytest.mark.parametrize(
    "change",
    [
        {"image": "ghcr.io/ensemw2s/trainer:0.1.1"},
        {"weak": {"model": "tiny-weak", "resources": {"cpu": "4", "memory": "8Gi"}}},
        {"strong": {"model": "minilm", "nodes": 2, "resources": {"gpus": 1}}},
        {"runPolicy": {"ttlSecondsAfterFinished": 60, "activeDeadlineSeconds": 100, "backoffLimit": 4}},
        {"scheduling": {"nodeSelector": {"pool": "b"}, "priorityClassName": "low", "queueName": "q"}},
        {"runtime": {"threads": 3}},
        {"storage": {"secretRef": "other", "hfTokenSecretRef": "hf"}},
    ],
)
def test_changing_how_it_runs_is_allowed(make_manifest, seen, at, change):
    observed, status = started(make_manifest, seen, at)
    observed = [seen(PREPARE, JobPhase.SUCCEEDED), seen(WEAK0, JobPhase.SUCCEEDED), seen(CEILING, JobPhase.RUNNING)]
    plan = plan_reconcile(make_manifest(spec=change), observed, status, 2, at(20))
    assert conditions(plan.status)["SpecUpToDate"]["status"] == "True"
    assert len(plan.create) == 2
    assert plan.status.to_json_dict()["acceptedSpecHash"] == status.to_json_dict()["acceptedSpecHash"]


def test_before_anything_started_a_new_spec_is_simply_accepted(make_manifest, at):
    paused = plan_reconcile(make_manifest(spec={"runPolicy": {"suspend": True}}), [], NEW, 1, at(0))
    edited = make_manifest(spec={"weak": {"model": "tiny-weak", "rounds": 5}, "runPolicy": {"suspend": True}})
    plan = plan_reconcile(edited, [], paused.status, 2, at(10))
    assert conditions(plan.status)["SpecUpToDate"]["status"] == "True"
    assert plan.status.to_json_dict()["acceptedSpec"]["weak"]["rounds"] == 5
    assert plan.status.to_json_dict()["acceptedSpecHash"] != paused.status.to_json_dict()["acceptedSpecHash"]


def test_fields_added_by_a_newer_operator_are_not_a_change(make_manifest, seen, at):
    observed, status = started(make_manifest, seen, at)
    assert status.accepted_spec is not None
    older = status.model_copy(
        update={
            "accepted_spec": {k: v for k, v in status.accepted_spec.items() if k != "baselines"},
            "accepted_spec_hash": "0" * 16,
        }
    )
    plan = plan_reconcile(make_manifest(), observed, older, 2, at(20))
    assert conditions(plan.status)["SpecUpToDate"]["status"] == "True"


def test_fixed_spec_leaves_out_exactly_the_mutable_fields(manifest):
    fixed = fixed_spec(manifest.spec)
    for path in MUTABLE_FIELDS:
        node = fixed
        *parents, leaf = path.split(".")
        for part in parents:
            node = node[part]
        assert leaf not in node, path
    assert fixed["weak"]["rounds"] == 2 and fixed["storage"]["pvc"] == {"claimName": "artifacts", "subPath": None}


def test_changed_fields_reports_paths_and_values():
    accepted = {"weak": {"rounds": 2, "model": "a"}, "storage": {"pvc": {"claimName": "x"}, "uri": None}}
    current = {"weak": {"rounds": 2, "model": "b", "new": 1}, "storage": {"pvc": None, "uri": "s3://b"}}
    assert changed_fields(accepted, current) == [
        ("spec.weak.model", "a", "b"),
        ("spec.storage.pvc", {"claimName": "x"}, None),
        ("spec.storage.uri", None, "s3://b"),
    ]
