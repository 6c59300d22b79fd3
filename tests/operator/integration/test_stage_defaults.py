"""The real operator started with ``W2S_STAGE_DEFAULTS`` (as the chart starts it): its stage and cleanup Jobs
run the default trainer image and request the default resources when the spec names neither."""

from __future__ import annotations

import json

NS = "default"
DEFAULTS = {
    "image": "mirror.example/ensemw2s/trainer:7",
    "weak": {"cpu": "3", "memory": "5Gi", "gpus": 0},
    "strong": {"cpu": "6", "memory": "10Gi", "gpus": 1},
}


def container(job):
    return job["spec"]["template"]["spec"]["containers"][0]


async def test_stage_and_cleanup_jobs_get_the_operators_defaults(cluster, kubelet, operator, experiment_spec, wait_for):
    await operator("--namespace", NS, env={"W2S_STAGE_DEFAULTS": json.dumps(DEFAULTS)})
    spec = experiment_spec(runPolicy={"deleteArtifacts": True})
    spec["weak"]["resources"] = {"memory": "1Gi"}  # the spec's value wins; the rest comes from the defaults
    await cluster.create_experiment(NS, "quota", spec)

    prepare = (await wait_for(lambda: cluster.jobs(NS, "quota"), what="the first Job"))[0]
    assert container(prepare)["image"] == DEFAULTS["image"]
    assert container(prepare)["resources"] == {"requests": {"cpu": "3", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}

    await cluster.delete_experiment(NS, "quota")
    cleanup = await wait_for(lambda: cluster.read("batch/v1/jobs", NS, "quota-cleanup"), what="the cleanup Job")
    assert container(cleanup)["image"] == DEFAULTS["image"]
    await kubelet.start(cleanup)
    await kubelet.succeed(cleanup)
    await wait_for(lambda: cluster.experiment_or_none(NS, "quota") is None, timeout=20, what="the experiment to go")
