"""API outages and two replicas: the operator retries, and only one replica acts at a time."""

from __future__ import annotations

import time

NS = "default"


async def test_an_api_outage_delays_but_does_not_break_an_experiment(
    cluster, operator, drive, experiment_spec, wait_for
):
    process = await operator("--namespace", NS)
    until = time.monotonic() + 1.5
    cluster.outage = lambda request: (
        request.method == "POST" and request.resource == cluster.resource("batch/v1/jobs") and time.monotonic() < until
    )

    await cluster.create_experiment(NS, "outage", experiment_spec())
    order = await drive(NS, "outage", until="Succeeded")

    assert len(order) == 6
    assert all(count == 1 for (kind, _, _), count in cluster.creations.items() if kind == "jobs")
    text = await process.scrape()
    errors = [line for line in text.splitlines() if line.startswith('ensemw2s_reconcile_total{result="error"}')]
    assert errors and float(errors[0].rsplit(" ", 1)[1]) >= 1
    assert (
        "create Job default/outage-prepare-s1: API server busy or unavailable (got HTTP 503 ServiceUnavailable"
        in process.log()
    )


async def test_two_replicas_with_peering_act_one_at_a_time(cluster, kubelet, operator, experiment_spec, wait_for):
    code, _ = await cluster.call(
        "POST", f"/apis/kopf.dev/v1/namespaces/{NS}/kopfpeerings", {"metadata": {"name": "ensemw2s"}, "status": {}}
    )
    assert code == 200
    leader = await operator("--namespace", NS, "--peering", "ensemw2s", "--priority", "20")
    standby = await operator("--namespace", NS, "--peering", "ensemw2s", "--priority", "10", "--verbose")
    # Kopf starts peered operators paused; the standby stays so while a higher priority peer is alive.
    await wait_for(
        lambda: "Pausing the watch-stream for ensemw2sexperiments" in standby.log(), what="the standby to start paused"
    )

    await cluster.create_experiment(NS, "duo", experiment_spec())
    prepare = (await wait_for(lambda: cluster.jobs(NS, "duo"), what="prepare"))[0]
    await kubelet.start(prepare)

    # The Job can be seen before the leader logs its event (status first, then events): wait for the line.
    await wait_for(lambda: "StageStarted" in leader.log(), what="the leader's StageStarted")
    assert "Resuming operations" not in standby.log()
    assert "StageStarted" not in standby.log()

    assert await leader.stop() == 0  # a clean exit leaves the peering at once
    await wait_for(lambda: "Resuming operations after the pause" in standby.log(), what="the standby to take over")
    await kubelet.succeed(cluster.read("batch/v1/jobs", NS, "duo-prepare-s1"))

    await wait_for(lambda: cluster.read("batch/v1/jobs", NS, "duo-weak-s1-r0"), what="the standby's first Job")
    await wait_for(lambda: "StageStarted: stage weak-s1-r0" in standby.log(), what="the standby's StageStarted")
    assert "StageStarted: stage prepare" not in standby.log()
    assert all(count == 1 for (kind, _, _), count in cluster.creations.items() if kind == "jobs")
