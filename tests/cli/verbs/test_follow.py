"""submit --watch, wait, logs and retry against the real operator process and KMock."""

from __future__ import annotations

import asyncio
import json

from ensemw2s.spec.results import ExperimentResults

NS = "default"
LOG = "\n".join([f"step {i} loss 0.{i}" for i in range(5)] + ["RuntimeError: boom"])


async def test_submit_watch_follows_an_experiment_to_success_then_status_and_results(
    cluster, operator, drive, wait_for, w2sctl, experiment_file
):
    await operator("--namespace", NS)
    watching = asyncio.create_task(w2sctl("submit", str(experiment_file("happy")), "--watch"))
    await wait_for(lambda: cluster.experiment_or_none(NS, "happy"), what="the applied experiment")
    await drive(NS, "happy")
    watched = await watching

    assert watched.code == 0, watched.err
    assert watched.out.splitlines() == [
        "ensemw2sexperiment.ensemw2s.io/happy serverside-applied",
        "ensemw2sexperiment.ensemw2s.io/happy condition met (Succeeded)",
    ]
    assert "happy weak-s1-r1: Succeeded" in watched.err  # one line per change, not a terminal
    assert "happy: Succeeded, round 2/2, PGR 0.50" in watched.err

    status = await w2sctl("status", "happy")
    assert status.code == 0
    assert status.out.splitlines()[0] == "default/happy: Succeeded, stage -, round 2/2, PGR 0.50, 6/6 stages done"
    assert [line.split()[:3] for line in status.out.splitlines()[2:8]] == [
        [stage, "Succeeded", "1"]
        for stage in ("prepare-s1", "weak-s1-r0", "weak-s1-r1", "aggregate-s1", "strong-s1-ensemble", "report")
    ]
    assert "results: PGR EnsemW2S vs weak 0.50, W2S vs weak 0.30" in status.out

    table = await w2sctl("results", "happy")
    assert table.code == 0 and "EnsemW2S student" in table.out and "PGR VS WEAK [95% CI]" in table.out
    document = await w2sctl("results", "happy", "-o", "json")
    results = ExperimentResults.model_validate(json.loads(document.out))
    assert results.experiment == "happy" and results.mean_pgr.ensemw2s_vs_weak == 0.5


async def test_a_failed_stage_exits_3_shows_its_log_and_retries(
    cluster, kubelet, operator, drive, wait_for, w2sctl, experiment_file
):
    await operator("--namespace", NS)

    async def fail(job):
        await kubelet.fail(job, reason="Error", exit_code=1, log=LOG)

    watching = asyncio.create_task(w2sctl("submit", str(experiment_file("sad")), "-w"))
    await wait_for(lambda: cluster.experiment_or_none(NS, "sad"), what="the applied experiment")
    await drive(NS, "sad", fail={"weak-s1-r0": fail})
    watched = await watching

    assert watched.code == 3
    assert watched.error_lines == [
        "Error: default/sad: Failed: stage weak-s1-r0 failed: exit code 1; last log lines: step 0 loss 0.0"
    ]

    logs = await w2sctl("logs", "sad", "--stage", "weak-s1-r0")
    assert logs.code == 0 and logs.out.splitlines() == LOG.splitlines()

    waited = await w2sctl("wait", "sad", "--for", "succeeded", "--timeout", "5s")
    assert waited.code == 3 and waited.error_lines[0].startswith("Error: default/sad: Failed")
    assert (await w2sctl("wait", "sad", "--for", "failed")).code == 0

    retried = await w2sctl("retry", "sad")
    assert retried.code == 0 and retried.out.startswith("ensemw2sexperiment.ensemw2s.io/sad retrying weak-s1-r0")
    token = cluster.experiment(NS, "sad")["metadata"]["annotations"]["ensemw2s.io/retry"]
    assert token in retried.out
    job = await wait_for(
        lambda: [
            j for j in cluster.jobs(NS, "sad") if j["metadata"]["name"] == "sad-weak-s1-r0" and not j.get("status")
        ],
        what="the recreated weak-s1-r0 Job",
    )
    assert job


async def test_wait_for_a_phase_and_its_usage_errors(cluster, w2sctl, experiment_file):
    await w2sctl("submit", str(experiment_file("w")))
    path = "/apis/ensemw2s.io/v1alpha1/namespaces/default/ensemw2sexperiments/w/status"
    await cluster.call("PATCH", path, {"status": {"phase": "Running", "observedGeneration": 1}})

    met = await w2sctl("wait", "w", "--for", "phase=running", "-o", "name")
    assert met.code == 0 and met.out.strip() == "ensemw2sexperiment.ensemw2s.io/w"
    timed_out = await w2sctl("wait", "w", "--for", "succeeded", "--timeout", "0.2")
    assert timed_out.code == 1
    assert timed_out.error_lines == [
        "Error: default/w: timed out after 0.2s (got phase Running, stage -); wait longer with --timeout"
    ]
    assert (await w2sctl("wait", "w", "--for", "done")).code == 2
    assert (await w2sctl("wait", "w", "--for", "phase=Bogus")).code == 2
    assert (await w2sctl("wait", "w", "--timeout", "soon")).code == 2

    await cluster.call("PATCH", path, {"status": {"phase": "Succeeded"}})
    ended = await w2sctl("wait", "w", "--for", "phase=Suspended")
    assert ended.code == 1 and "ended Succeeded, so it can no longer become Suspended" in ended.err


def test_on_a_terminal_the_stages_are_a_live_table() -> None:
    import io

    from ensemw2s.cli.experiment import ExperimentView
    from ensemw2s.cli.state import State
    from ensemw2s.cli.wait import LiveTable
    from rich.console import Console

    from .conftest import tiny_spec

    sink = io.StringIO()
    state = State(err=Console(file=sink, force_terminal=True, width=120))
    stages = [{"name": "prepare-s1", "phase": "Succeeded", "attempts": 1}, {"name": "weak-s1-r0", "phase": "Running"}]
    body = {
        "metadata": {"name": "live", "namespace": NS},
        "spec": tiny_spec(),
        "status": {"phase": "Running", "stages": stages},
    }

    with LiveTable(state) as live:
        live.update(ExperimentView.from_body(body))

    text = sink.getvalue()
    assert "default/live: Running" in text and "weak-s1-r0" in text and "Succeeded" in text
