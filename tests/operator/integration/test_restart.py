"""The operator killed mid-run and started again: no duplicate Job, no lost stage."""

from __future__ import annotations

NS = "default"


async def test_operator_killed_mid_run_resumes_without_duplicates(
    cluster, kubelet, operator, drive, experiment_spec, wait_for
):
    first = await operator("--namespace", NS)
    await cluster.create_experiment(NS, "phoenix", experiment_spec(baselines={"w2s": True, "ceiling": False}))
    prepare = (await wait_for(lambda: cluster.jobs(NS, "phoenix"), what="prepare"))[0]
    await kubelet.start(prepare)
    await kubelet.succeed(prepare)
    weak = await wait_for(lambda: cluster.read("batch/v1/jobs", NS, "phoenix-weak-s1-r0"), what="weak-s1-r0")
    await kubelet.start(weak)
    await wait_for(
        lambda: cluster.experiment(NS, "phoenix")["status"]["stageCounts"]["active"] == 1, what="weak-r0 running"
    )
    # Kopf posts events from a queue after the handler returns: wait for this one to land before the kill,
    # or the count of StageStarted events below measures the kill's timing, not duplicate starts.
    await wait_for(
        lambda: any("phoenix-weak-s1-r0" in e.get("message", "") for e in cluster.events(NS, "phoenix")),
        what="the StageStarted event of weak-s1-r0",
    )

    await first.kill()  # SIGKILL: no graceful anything

    # While the operator is down the stage finishes: the only notice of it is the Job's state.
    await kubelet.succeed(cluster.read("batch/v1/jobs", NS, "phoenix-weak-s1-r0"))
    assert cluster.experiment(NS, "phoenix")["status"]["succeededStages"] == ["prepare-s1"]

    await operator("--namespace", NS)
    # The restarted operator sees the finished stage and starts both of its successors, once.
    names = await wait_for(
        lambda: (n := {j["metadata"]["name"] for j in cluster.jobs(NS, "phoenix")}) and len(n) == 4 and n,
        what="weak-s1-r1 and strong-s1-w2s",
    )
    assert names == {"phoenix-prepare-s1", "phoenix-weak-s1-r0", "phoenix-weak-s1-r1", "phoenix-strong-s1-w2s"}

    order = await drive(NS, "phoenix", until="Succeeded")

    assert sorted(order) == sorted(["weak-s1-r1", "strong-s1-w2s", "aggregate-s1", "strong-s1-ensemble", "report"])
    status = cluster.experiment(NS, "phoenix")["status"]
    assert status["succeededStages"] == [
        "prepare-s1", "weak-s1-r0", "weak-s1-r1", "aggregate-s1", "strong-s1-ensemble", "strong-s1-w2s", "report",
    ]  # fmt: skip
    job_creations = {name: count for (kind, _, name), count in cluster.creations.items() if kind == "jobs"}
    assert len(job_creations) == 7 and set(job_creations.values()) == {1}, job_creations
    events = [e["reason"] for e in cluster.events(NS, "phoenix")]
    assert events.count("StageStarted") == 7 and events.count("Accepted") == 1


async def test_restart_with_nothing_new_writes_nothing(cluster, kubelet, operator, drive, experiment_spec, wait_for):
    """A finished experiment stays as it is across restarts: same status, no new Job, no new event."""
    first = await operator("--namespace", NS)
    await cluster.create_experiment(NS, "done", experiment_spec())
    await drive(NS, "done")
    await wait_for(lambda: "Succeeded" in [e["reason"] for e in cluster.events(NS, "done")], what="events")
    await first.kill()
    before = cluster.experiment(NS, "done")
    events_before = len(cluster.events(NS, "done"))
    reads_before = cluster.experiment_reads(NS, "done")

    await operator("--namespace", NS, interval=0.1)
    # The resume handler reconciles once. A finished experiment is not resynced: the timer skips it. An
    # unfinished experiment started now is the clock: once it has been reconciled 3 times by its timer,
    # the finished one's timer has had as many chances.
    await wait_for(lambda: cluster.experiment_reads(NS, "done") > reads_before, what="the resume reconciliation")
    await cluster.create_experiment(NS, "clock", experiment_spec())
    await wait_for(lambda: cluster.experiment_reads(NS, "clock") >= 4, what="the clock's timer reconciliations")

    after = cluster.experiment(NS, "done")
    assert after["status"] == before["status"]
    assert after["metadata"] == before["metadata"], (before["metadata"], after["metadata"])
    assert len(cluster.events(NS, "done")) == events_before
    assert all(count == 1 for (kind, _, _), count in cluster.creations.items() if kind == "jobs")
    assert cluster.experiment_reads(NS, "done") == reads_before + 1  # the resume handler's only
