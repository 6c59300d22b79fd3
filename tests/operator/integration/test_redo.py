"""Redo on the cluster: ``ensemw2s.io/redo=STAGE`` reruns that stage and its downstream with ``--redo``."""

from __future__ import annotations

from typing import Any

NS = "default"
REDONE = ["weak-s1-r1", "aggregate-s1", "strong-s1-ensemble", "report"]
KEPT = ["prepare-s1", "weak-s1-r0"]


def command(job: dict[str, Any]) -> list[str]:
    [container] = job["spec"]["template"]["spec"]["containers"]
    return [*container.get("command", []), *container.get("args", [])]


async def test_redo_annotation_reruns_the_stage_and_its_downstream_with_redo(
    cluster, operator, experiment_spec, drive, wait_for
):
    await operator("--namespace", NS)
    await cluster.create_experiment(NS, "redo", experiment_spec())
    await drive(NS, "redo")
    first = {job["metadata"]["name"]: job["metadata"]["uid"] for job in cluster.jobs(NS, "redo")}
    assert not any("--redo" in command(job) for job in cluster.jobs(NS, "redo"))

    await cluster.patch_experiment(NS, "redo", {"metadata": {"annotations": {"ensemw2s.io/redo": "weak-s1-r1"}}})
    status = await wait_for(
        lambda: (s := cluster.experiment(NS, "redo")["status"])["phase"] == "Running" and s,
        what="the redo",
    )
    assert sorted(r["name"] for r in status["redoingStages"]) == sorted(REDONE)
    assert status.get("results") is None and status.get("pgr") is None  # the report is redone
    order = await drive(NS, "redo", until="Succeeded")

    assert order == REDONE
    jobs = {job["metadata"]["name"]: job for job in cluster.jobs(NS, "redo")}
    for stage in REDONE:
        job = jobs[f"redo-{stage}"]
        assert job["metadata"]["uid"] != first[f"redo-{stage}"] and command(job)[-1] == "--redo", stage
        assert cluster.creations[("jobs", NS, f"redo-{stage}")] == 2
    for stage in KEPT:
        assert jobs[f"redo-{stage}"]["metadata"]["uid"] == first[f"redo-{stage}"]
        assert "--redo" not in command(jobs[f"redo-{stage}"])
    status = cluster.experiment(NS, "redo")["status"]
    assert status["redoingStages"] == [] and status["redoToken"] == "weak-s1-r1"
    assert status["results"]["meanPgr"]["ensemw2sVsWeak"] == 0.5 and status["pgr"] == "0.50"
    redoing = await wait_for(
        lambda: [e for e in cluster.events(NS, "redo") if e["reason"] == "Redoing"], what="the Redoing event"
    )
    assert redoing[0]["message"] == (
        "redoing weak-s1-r1 and the 3 stages downstream: aggregate-s1, strong-s1-ensemble, report "
        "(ensemw2s.io/redo=weak-s1-r1)"
    )
