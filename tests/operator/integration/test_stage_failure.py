"""A stage that runs out of memory: a retry, then the final failure, reported with the log tail."""

from __future__ import annotations

NS = "default"
LOG = "\n".join([f"step {i} loss 0.{i}" for i in range(40)] + ["RuntimeError: CUDA out of memory"])


def series(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key.split("{")[0] == name and all(f'{k}="{v}"' in key for k, v in labels.items()):
            return float(value)
    return None


async def test_oom_killed_stage_fails_the_experiment_with_reason_and_log_tail(
    cluster, kubelet, operator, experiment_spec, wait_for
):
    process = await operator("--namespace", NS)
    await cluster.create_experiment(NS, "oom", experiment_spec())

    prepare = (await wait_for(lambda: cluster.jobs(NS, "oom"), what="prepare"))[0]
    await kubelet.start(prepare)
    await kubelet.succeed(prepare)
    weak = await wait_for(lambda: cluster.read("batch/v1/jobs", NS, "oom-weak-s1-r0"), what="weak-s1-r0")
    await kubelet.start(weak)

    # First pod OOMKilled, the Job retries (backoffLimit 2): the stage runs again, counted as a retry.
    await kubelet.fail(weak, reason="OOMKilled", exit_code=137, log=LOG, final=False)

    async def retried() -> bool:
        return series(await process.scrape(), "ensemw2s_stage_retries_total", reason="OOMKilled") == 1

    await wait_for(retried, what="the retry metric")
    stage = next(s for s in cluster.experiment(NS, "oom")["status"]["stages"] if s["name"] == "weak-s1-r0")
    assert stage["phase"] == "Running" and stage["attempts"] == 2

    # Second pod OOMKilled too, the Job gives up.
    await kubelet.fail(weak, reason="OOMKilled", exit_code=137, log=LOG, final=True)
    status = await wait_for(
        lambda: (s := cluster.experiment(NS, "oom")["status"]).get("phase") == "Failed" and s, what="phase Failed"
    )

    assert status["failedStages"] == ["weak-s1-r0"]
    assert status["stage"] == "weak-s1-r0"
    assert status["message"].startswith("stage weak-s1-r0 failed: OOMKilled; last log lines: ")
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["status"] == "True" and failed["reason"] == "StageFailed"
    assert "RuntimeError: CUDA out of memory" in failed["message"]
    assert "step 39 loss" in failed["message"] and "step 5 loss" not in failed["message"]  # the tail only
    entry = next(s for s in status["stages"] if s["name"] == "weak-s1-r0")
    assert entry["reason"] == "OOMKilled" and entry["attempts"] == 2  # two pods ran
    assert entry["message"].endswith("RuntimeError: CUDA out of memory")

    events = await wait_for(
        lambda: [e for e in cluster.events(NS, "oom") if e["reason"] == "StageFailed"], what="StageFailed event"
    )
    assert events[0]["type"] == "Warning"
    assert events[0]["message"].startswith("stage weak-s1-r0 failed: OOMKilled; last log lines:")

    # Fail-fast: nothing after the failed stage is started, however often the operator reconciles.
    await wait_for(lambda: len(cluster.events(NS, "oom")) >= 5, what="events")
    names = sorted(j["metadata"]["name"] for j in cluster.jobs(NS, "oom"))
    assert names == ["oom-prepare-s1", "oom-weak-s1-r0"]
    text = await process.scrape()
    assert series(text, "ensemw2s_experiments", namespace=NS, phase="Failed") == 1
    assert series(text, "ensemw2s_stage_duration_seconds_count", kind="weak") == 1


async def test_retry_annotation_reruns_the_failed_stage(cluster, kubelet, operator, experiment_spec, drive, wait_for):
    await operator("--namespace", NS)
    await cluster.create_experiment(NS, "again", experiment_spec())

    async def fail_once(job):
        await kubelet.fail(job, reason="Error", exit_code=1, log="Traceback: boom")

    await drive(NS, "again", fail={"weak-s1-r0": fail_once})
    assert cluster.experiment(NS, "again")["status"]["phase"] == "Failed"

    await cluster.patch_experiment(NS, "again", {"metadata": {"annotations": {"ensemw2s.io/retry": "1"}}})
    order = await drive(NS, "again", until="Succeeded")

    status = cluster.experiment(NS, "again")["status"]
    assert status["phase"] == "Succeeded", status
    assert order == ["weak-s1-r0", "weak-s1-r1", "aggregate-s1", "strong-s1-ensemble", "report"]
    entry = next(s for s in status["stages"] if s["name"] == "weak-s1-r0")
    assert entry["retries"] == 1
    assert cluster.creations[("jobs", NS, "again-weak-s1-r0")] == 2  # deleted and created again, once
