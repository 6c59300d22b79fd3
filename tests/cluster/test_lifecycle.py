"""On a real API server: submit -> stage Jobs -> Succeeded with the report's results; redo of a stage."""

from __future__ import annotations

import json

import pytest
from ensemw2s.operator.status_model import Phase
from ensemw2s.spec import StageSummary
from ensemw2s.spec.results import ExperimentResults
from ensemw2s.spec.results_text import format_pgr

pytestmark = pytest.mark.cluster

STAGES = [
    "prepare-s1", "weak-s1-r0", "weak-s1-r1", "aggregate-s1", "strong-s1-ensemble", "strong-s1-ceiling", "report",
]  # fmt: skip
REDONE = {"weak-s1-r1", "aggregate-s1", "strong-s1-ensemble", "report"}


def printer_columns(table: str) -> dict[str, str]:
    """The one row of ``kubectl get`` as {column: value}, cut at the header's column starts (cells may be empty)."""
    header, row = table.splitlines()[:2]
    names = header.split()
    starts = [header.index(f" {name}") + 1 if i else 0 for i, name in enumerate(names)]
    ends = [*starts[1:], max(len(row), len(header))]
    return {name: row[start:end].strip() for name, start, end in zip(names, starts, ends, strict=True)}


def report_results(message: str) -> ExperimentResults:
    summary = StageSummary.from_termination_message(message)
    assert summary is not None and summary.results is not None
    return ExperimentResults.model_validate(summary.results)


def test_submit_runs_every_stage_and_ends_succeeded_with_the_reports_results(cluster):
    assert f"ensemw2sexperiment.ensemw2s.io/{cluster.name} created" in cluster.submit()

    ended = cluster.drive()

    status = cluster.status()
    assert status.phase is Phase.SUCCEEDED, status.message
    assert sorted(status.succeeded_stages) == sorted(STAGES) and not status.failed_stages
    assert sorted(ended) == sorted(STAGES) and ended[0] == "prepare-s1" and ended[-1] == "report"
    expected = report_results(cluster.outcomes.message("report"))
    assert status.results == expected
    weak_r0 = next(stage for stage in status.stages if stage.name == "weak-s1-r0")
    assert weak_r0.summary is not None
    assert weak_r0.summary.metrics == json.loads(cluster.outcomes.message("weak-s1-r0"))["metrics"]
    # The printer column, the report's table and the status: one formatter.
    pgr = format_pgr(expected.mean_pgr.ensemw2s_vs_weak)
    columns = printer_columns(cluster.kubectl("get", "w2sx", cluster.name).stdout)
    assert columns["PHASE"] == "Succeeded" and columns["PGR"] == pgr == status.pgr
    # Every stage Job is owned by the experiment, as the garbage collector needs.
    uid = cluster.body()["metadata"]["uid"]
    jobs = cluster.batch.list_namespaced_job(cluster.namespace).items
    assert len(jobs) == len(STAGES)
    for job in jobs:
        (owner,) = job.metadata.owner_references
        assert (owner.kind, owner.name, owner.uid, owner.controller) == ("EnsemW2SExperiment", cluster.name, uid, True)
    # ... and the report's table says the same PGR (its EnsemW2S row, "PGR vs weak [95% CI]").
    report_row = next(line for line in cluster.outcomes.report_markdown.splitlines() if line.startswith("| EnsemW2S"))
    assert report_row.split("|")[3].strip().split(" [")[0] == pgr, report_row


def test_redo_recreates_the_stage_and_everything_downstream(cluster):
    cluster.submit()
    cluster.drive()
    before = cluster.job_uids()

    cluster.annotate("ensemw2s.io/redo=weak-s1-r1")
    ended = cluster.drive(
        until=lambda s: s.get("redoToken") == "weak-s1-r1" and s.get("phase") == "Succeeded" and not s["redoingStages"]
    )

    after = cluster.job_uids()
    assert sorted(ended) == sorted(REDONE)
    assert {stage for stage in STAGES if after[stage] != before[stage]} == REDONE
    for stage in STAGES:
        job = cluster.batch.read_namespaced_job(f"{cluster.name}-{stage}", cluster.namespace)
        assert ("--redo" in job.spec.template.spec.containers[0].command) == (stage in REDONE), stage
    assert cluster.status().phase is Phase.SUCCEEDED
