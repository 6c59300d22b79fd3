"""Redo on the cluster (``ensemw2s.io/redo``): the named stages and everything downstream run again with --redo."""

from __future__ import annotations

import pytest
from ensemw2s.operator.naming import ANNOTATION_REDO, job_name
from ensemw2s.operator.observe import JobPhase
from ensemw2s.operator.plan import plan_reconcile
from ensemw2s.operator.redo import redo_request, stage_names
from ensemw2s.operator.status_model import ExperimentStatus, StagePhase
from ensemw2s.spec import Stage, build_stage_graph
from ensemw2s.spec.results import ExperimentResults, PGRs

ORDER = [
    "prepare-s1", "weak-s1-r0", "weak-s1-r1", "aggregate-s1",
    "strong-s1-ensemble", "strong-s1-w2s", "strong-s1-ceiling", "report",
]  # fmt: skip
AFFECTED = ["weak-s1-r1", "aggregate-s1", "strong-s1-ensemble", "report"]
"""weak-s1-r1 and what depends on it; weak-s1-r0, the w2s and ceiling students do not."""
RESULTS = ExperimentResults(experiment="exp", mean_pgr=PGRs(ensemw2s_vs_weak=0.5))


def finished(make_manifest, seen, summary_for, at):
    """A succeeded experiment whose Jobs are all still there (created at t=0), and its status."""
    manifest = make_manifest()
    report = Stage.parse("report")
    results = RESULTS.model_dump(mode="json", by_alias=True)
    observed = [
        seen(s, JobPhase.SUCCEEDED, summary=summary_for(s, results=results) if s == report else None)
        for s in map(Stage.parse, ORDER)
    ]
    status = plan_reconcile(manifest, observed, ExperimentStatus(), 1, at(0)).status
    assert status.phase == "Succeeded" and status.results == RESULTS
    return observed, status


def redo(make_manifest, value):
    return make_manifest(metadata={"annotations": {ANNOTATION_REDO: value}})


def test_redo_deletes_the_stage_and_its_downstream_jobs(make_manifest, seen, summary_for, at):
    observed, status = finished(make_manifest, seen, summary_for, at)

    plan = plan_reconcile(redo(make_manifest, "weak-s1-r1"), observed, status, 1, at(100))

    assert sorted(plan.delete) == sorted(job_name("exp", Stage.parse(n)) for n in AFFECTED)
    assert plan.create == ()
    assert [r.name for r in plan.status.redoing_stages] == sorted(AFFECTED)
    assert plan.status.redo_token == "weak-s1-r1"
    assert {e.name: e.phase for e in plan.status.stages if e.name in AFFECTED} == dict.fromkeys(
        AFFECTED, StagePhase.REDOING
    )
    assert plan.status.succeeded_stages == [n for n in ORDER if n not in AFFECTED]
    assert plan.status.phase == "Running" and plan.status.results is None and plan.status.pgr is None
    [event] = [e for e in plan.events if e.reason == "Redoing"]
    assert event.message == (
        "redoing weak-s1-r1 and the 3 stages downstream: aggregate-s1, strong-s1-ensemble, report "
        "(ensemw2s.io/redo=weak-s1-r1)"
    )


def test_redone_stages_are_created_with_redo_once_their_old_jobs_are_gone(make_manifest, seen, summary_for, at):
    observed, status = finished(make_manifest, seen, summary_for, at)
    manifest = redo(make_manifest, "weak-s1-r1")
    first = plan_reconcile(manifest, observed, status, 1, at(100))
    kept = [o for o in observed if o.stage.name not in AFFECTED]
    deleting = [o for o in observed if o.stage.name in AFFECTED]

    waiting = plan_reconcile(
        manifest, kept + [seen(o.stage, o.phase, deleting=True) for o in deleting], first.status, 1, at(110)
    )
    assert waiting.create == () and waiting.delete == () and waiting.events == ()

    gone = plan_reconcile(manifest, kept, waiting.status, 1, at(120))
    weak1 = Stage.parse("weak-s1-r1")
    assert gone.create == (weak1,) and gone.redo == frozenset({weak1})

    # The new Job (created after the request) is observed as usual, and its stage's redo is over.
    new = seen(weak1, JobPhase.SUCCEEDED, uid="new")
    done = plan_reconcile(manifest, [*kept, new], gone.status, 1, at(130))
    assert done.delete == () and "weak-s1-r1" in done.status.succeeded_stages
    aggregate = Stage.parse("aggregate-s1")
    assert done.create == (aggregate,) and done.redo == frozenset({aggregate})
    assert [r.name for r in done.status.redoing_stages] == ["aggregate-s1", "report", "strong-s1-ensemble"]


def test_the_same_value_is_one_request_and_a_new_one_redoes_again(make_manifest, seen, summary_for, at):
    observed, status = finished(make_manifest, seen, summary_for, at)
    manifest = redo(make_manifest, "report")
    first = plan_reconcile(manifest, observed, status, 1, at(100))
    rest = [o for o in observed if o.stage.name != "report"]
    created = plan_reconcile(manifest, rest, first.status, 1, at(110))
    assert created.redo == frozenset({Stage.parse("report")})
    results = RESULTS.model_dump(mode="json", by_alias=True)
    new = seen(
        Stage.parse("report"), JobPhase.SUCCEEDED, uid="new", summary=summary_for(Stage.parse("report"), results)
    )
    again = plan_reconcile(manifest, [*rest, new], created.status, 1, at(120))
    assert again.delete == () and again.status.redoing_stages == [] and again.status.phase == "Succeeded"
    assert again.status.results == RESULTS

    anew = plan_reconcile(redo(make_manifest, "report@2"), [*rest, new], again.status, 1, at(130))
    assert anew.delete == (job_name("exp", Stage.parse("report")),)


def test_a_name_that_is_no_stage_refuses_the_whole_value_once(make_manifest, seen, summary_for, at):
    observed, status = finished(make_manifest, seen, summary_for, at)
    manifest = redo(make_manifest, "weak-s1-r1,weak-s9-r0")

    plan = plan_reconcile(manifest, observed, status, 1, at(100))

    assert plan.delete == () and plan.create == () and plan.status.redoing_stages == []
    [event] = plan.events
    assert (event.reason, event.type) == ("RedoRefused", "Warning")
    assert event.message == (
        "metadata.annotations.ensemw2s.io/redo: must name stages of this experiment, separated by commas "
        "(got 'weak-s9-r0'); use names from status.succeededStages, e.g. prepare-s1"
    )
    assert plan_reconcile(manifest, observed, plan.status, 1, at(110)).events == ()


def test_redo_of_a_failed_stage_runs_it_again_with_redo(make_manifest, seen, at):
    observed = [seen(Stage.parse("prepare-s1"), JobPhase.SUCCEEDED), seen(Stage.parse("weak-s1-r0"), JobPhase.FAILED)]
    failed = plan_reconcile(make_manifest(), observed, ExperimentStatus(), 1, at(0))
    assert failed.status.phase == "Failed"
    manifest = redo(make_manifest, "weak-s1-r0")
    plan = plan_reconcile(manifest, observed, failed.status, 1, at(10))
    assert plan.delete == (job_name("exp", Stage.parse("weak-s1-r0")),) and plan.status.failed_stages == []
    recreated = plan_reconcile(manifest, observed[:1], plan.status, 1, at(20))
    assert recreated.create == (Stage.parse("weak-s1-r0"),) and recreated.redo == {Stage.parse("weak-s1-r0")}


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("weak-s1-r1", ["weak-s1-r1"]),
        ("weak-s1-r1, report@2", ["weak-s1-r1", "report"]),
        ("@3", []),
        ("", []),
    ],
)
def test_stage_names(value, names):
    assert stage_names(value) == names


def test_an_empty_value_is_refused(manifest):
    request = redo_request("", build_stage_graph(manifest.spec))
    assert request.stages == () and request.refusal is not None and "(got '')" in request.refusal
