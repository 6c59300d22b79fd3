"""``spec.runPolicy.suspend``: running Jobs are suspended, nothing new starts; false resumes them."""

from __future__ import annotations

from typing import Any

NS = "default"


def suspend_patch(value: bool) -> dict[str, Any]:
    return {"spec": {"runPolicy": {"suspend": value}}}


async def test_suspend_then_resume_a_running_experiment(cluster, kubelet, operator, drive, experiment_spec, wait_for):
    await operator("--namespace", NS)
    await cluster.create_experiment(NS, "pause", experiment_spec())
    prepare = (await wait_for(lambda: cluster.jobs(NS, "pause"), what="prepare"))[0]
    await kubelet.start(prepare)

    await cluster.patch_experiment(NS, "pause", suspend_patch(True))
    await wait_for(
        lambda: cluster.read("batch/v1/jobs", NS, "pause-prepare-s1")["spec"]["suspend"] is True, what="Job suspended"
    )
    status = await wait_for(
        lambda: (s := cluster.experiment(NS, "pause")["status"])["phase"] == "Suspended" and s, what="phase Suspended"
    )
    suspended = next(c for c in status["conditions"] if c["type"] == "Suspended")
    assert (suspended["status"], suspended["reason"]) == ("True", "SuspendedByUser")
    assert status["observedGeneration"] == 2

    # The stage finishes anyway (it was past the point of suspension): no new stage starts while suspended.
    await kubelet.succeed(cluster.read("batch/v1/jobs", NS, "pause-prepare-s1"))
    await wait_for(lambda: "prepare-s1" in cluster.experiment(NS, "pause")["status"]["succeededStages"], what="prepare")
    await wait_for(lambda: len([e for e in cluster.events(NS, "pause") if e["reason"] == "StageSucceeded"]) == 1)
    assert [j["metadata"]["name"] for j in cluster.jobs(NS, "pause")] == ["pause-prepare-s1"]

    await cluster.patch_experiment(NS, "pause", suspend_patch(False))
    order = await drive(NS, "pause", until="Succeeded")

    assert order == ["weak-s1-r0", "weak-s1-r1", "aggregate-s1", "strong-s1-ensemble", "report"]
    reasons = await wait_for(
        lambda: (r := [e["reason"] for e in cluster.events(NS, "pause")]) and "Succeeded" in r and r, what="events"
    )
    assert reasons.count("Suspended") == 1 and reasons.count("Resumed") == 1


async def test_created_suspended_runs_nothing_until_resumed(cluster, kubelet, operator, experiment_spec, wait_for):
    await operator("--namespace", NS)
    await cluster.create_experiment(NS, "held", experiment_spec(runPolicy={"suspend": True}))

    status = await wait_for(
        lambda: (s := cluster.experiment(NS, "held").get("status")) and s["phase"] == "Suspended" and s,
        what="phase Suspended",
    )
    assert status["stageCounts"]["waiting"] == 6
    assert cluster.jobs(NS, "held") == []

    await cluster.patch_experiment(NS, "held", suspend_patch(False))
    jobs = await wait_for(lambda: cluster.jobs(NS, "held"), what="the first Job")
    assert [j["metadata"]["name"] for j in jobs] == ["held-prepare-s1"]
    assert jobs[0]["spec"]["suspend"] is False


async def test_a_suspended_job_is_resumed_by_the_operator(cluster, kubelet, operator, experiment_spec, wait_for):
    """Level-based: a Job suspended behind the operator's back (e.g. by hand) runs again."""
    await operator("--namespace", NS)
    await cluster.create_experiment(NS, "nudge", experiment_spec())
    job = (await wait_for(lambda: cluster.jobs(NS, "nudge"), what="prepare"))[0]
    await kubelet.start(job)

    code, _ = await cluster.call(
        "PATCH", f"/apis/batch/v1/namespaces/{NS}/jobs/nudge-prepare-s1", {"spec": {"suspend": True}}
    )
    assert code == 200
    await wait_for(
        lambda: cluster.read("batch/v1/jobs", NS, "nudge-prepare-s1")["spec"]["suspend"] is False, what="Job resumed"
    )
