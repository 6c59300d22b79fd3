"""A whole experiment, created through the API and run to Succeeded by the real operator."""

from __future__ import annotations

import re

NS = "default"
STAGES = ["prepare-s1", "weak-s1-r0", "weak-s1-r1", "aggregate-s1", "strong-s1-ensemble", "report"]


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in Prometheus text format (None when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if line.split(" ")[0].split("{")[0] == name and all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_experiment_runs_to_succeeded_with_results_and_events(
    cluster, operator, drive, experiment_spec, wait_for
):
    process = await operator("--namespace", NS)
    await cluster.create_experiment(NS, "happy", experiment_spec())

    order = await drive(NS, "happy")

    assert order == STAGES  # one stage after the other: the graph's dependencies, in order
    experiment = cluster.experiment(NS, "happy")
    status = experiment["status"]
    assert status["phase"] == "Succeeded"
    assert status["observedGeneration"] == experiment["metadata"]["generation"]
    assert status["succeededStages"] == STAGES
    assert status["stageCounts"] == {"total": 6, "waiting": 0, "active": 0, "suspended": 0, "succeeded": 6, "failed": 0}
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions["Accepted"] == ("True", "SpecValid")
    assert conditions["WeakTrained"] == ("True", "AllRoundsTrained")
    assert conditions["Succeeded"] == ("True", "ReportReady")
    assert conditions["Failed"] == ("False", "NoFailure")
    # Results and stage summaries come from the pods' termination messages.
    assert status["results"]["meanPgr"] == {"w2sVsWeak": 0.3, "ensemw2sVsWeak": 0.5, "ensemw2sVsEnsemble": 0.33}
    assert status["pgr"] == "0.50"
    weak = next(s for s in status["stages"] if s["name"] == "weak-s1-r0")
    assert weak["summary"]["metrics"] == {"accuracy": 0.7}
    assert weak["job"] == "happy-weak-s1-r0" and weak["attempts"] == 1

    # One Job per stage, created once, owned by the experiment, labelled for selection.
    jobs = cluster.jobs(NS, "happy")
    assert [j["metadata"]["name"] for j in jobs] == sorted(f"happy-{s}" for s in STAGES)
    assert all(count == 1 for key, count in cluster.creations.items() if key[0] == "jobs")
    owner = jobs[0]["metadata"]["ownerReferences"][0]
    assert owner["uid"] == experiment["metadata"]["uid"] and owner["controller"] is True
    assert jobs[0]["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "ensemw2s-operator"

    reasons = await wait_for(
        lambda: (r := [e["reason"] for e in cluster.events(NS, "happy")]) and "Succeeded" in r and r,
        what="the Succeeded event",
    )
    assert reasons.count("StageStarted") == 6 and reasons.count("StageSucceeded") == 6
    for reason in ("Accepted", "WeakTrained", "Aggregated", "StrongTrained", "Succeeded"):
        assert reasons.count(reason) == 1, reasons

    text = await process.scrape()
    labels = {"namespace": NS, "experiment": "happy"}
    assert metric(text, "ensemw2s_experiment_pgr", baseline="ensemw2s_vs_weak", **labels) == 0.5
    assert metric(text, "ensemw2s_experiments", namespace=NS, phase="Succeeded") == 1
    assert metric(text, "ensemw2s_stage_duration_seconds_count", kind="weak") == 2
    assert metric(text, "ensemw2s_stage_duration_seconds_sum", kind="weak") == 4.0  # the summaries' seconds
    assert (metric(text, "ensemw2s_reconcile_total", result="ok") or 0) >= 6
    assert "uid" not in text

    # Deleting the experiment deletes its Jobs (owner references) and its metric series.
    await cluster.delete_experiment(NS, "happy")
    await wait_for(
        lambda: cluster.read("ensemw2s.io/v1alpha1/ensemw2sexperiments", NS, "happy") is None, what="deletion"
    )
    assert cluster.jobs(NS) == []

    async def series_gone() -> bool:
        text = await process.scrape()
        return metric(text, "ensemw2s_experiment_pgr", baseline="ensemw2s_vs_weak", **labels) is None

    await wait_for(series_gone, what="the PGR series to go")
    text = await process.scrape()
    assert metric(text, "ensemw2s_experiments", namespace=NS, phase="Succeeded") is None


async def test_baselines_start_as_soon_as_their_inputs_exist(cluster, kubelet, operator, experiment_spec, wait_for):
    await operator("--namespace", NS)
    await cluster.create_experiment(NS, "full", experiment_spec(baselines={"w2s": True, "ceiling": True}))

    prepare = await wait_for(lambda: cluster.jobs(NS, "full"), what="the prepare Job")
    assert [j["metadata"]["name"] for j in prepare] == ["full-prepare-s1"]
    await kubelet.start(prepare[0])
    await kubelet.succeed(prepare[0])

    # The ceiling needs only the prepared data, so it starts beside the first weak round.
    names = await wait_for(
        lambda: (n := {j["metadata"]["name"] for j in cluster.jobs(NS, "full")}) and len(n) == 3 and n,
        what="weak-r0 and the ceiling",
    )
    assert names == {"full-prepare-s1", "full-weak-s1-r0", "full-strong-s1-ceiling"}
    job = cluster.read("batch/v1/jobs", NS, "full-weak-s1-r0")
    assert job is not None and job["spec"]["template"]["spec"]["containers"][0]["command"][-4:] == [
        "--seed",
        "1",
        "--round",
        "0",
    ]
