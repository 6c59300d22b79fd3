"""A generation experiment through the real operator: the same stage graph as classification, and every
stage pod carries the generation settings (they reach the trainer in the manifest it is given)."""

from __future__ import annotations

import json
from typing import Any

from ensemw2s.spec import ENV_MANIFEST

NS = "default"
GENERATION: dict[str, Any] = {
    "task": "generation",
    "dataset": {"name": "synthetic-word-ops", "sizes": {"easy": 8, "val": 4, "hardTrain": 8, "hardTest": 4}},
    "weak": {"model": "tiny-weak", "rounds": 2},
    "strong": {"model": "smollm2-135m"},
    "generation": {"chanceRate": 0.01, "window": 2, "maxNewTokens": 8, "choiceAnswer": "letter"},
}


def manifest_of(job: dict[str, Any]) -> dict[str, Any]:
    [container] = job["spec"]["template"]["spec"]["containers"]
    env = {entry["name"]: entry.get("value") for entry in container["env"]}
    manifest: dict[str, Any] = json.loads(env[ENV_MANIFEST])
    return manifest


async def test_a_generation_experiment_runs_the_classification_stage_graph(
    cluster, operator, drive, experiment_spec, wait_for
):
    await operator("--namespace", NS)
    await cluster.create_experiment(NS, "classify", experiment_spec())
    await cluster.create_experiment(NS, "generate", experiment_spec(**GENERATION))

    classification = await drive(NS, "classify")
    generation = await drive(NS, "generate")

    assert (
        generation
        == classification
        == [
            "prepare-s1",
            "weak-s1-r0",
            "weak-s1-r1",
            "aggregate-s1",
            "strong-s1-ensemble",
            "report",
        ]
    )
    status = cluster.experiment(NS, "generate")["status"]
    assert status["phase"] == "Succeeded" and status["succeededStages"] == generation
    jobs = cluster.jobs(NS, "generate")
    assert [j["metadata"]["name"] for j in jobs] == sorted(f"generate-{stage}" for stage in generation)
    for job in jobs:
        spec = manifest_of(job)["spec"]
        assert spec["task"] == "generation", job["metadata"]["name"]
        assert spec["generation"] == GENERATION["generation"], job["metadata"]["name"]
    assert all("generation" not in manifest_of(job)["spec"] for job in cluster.jobs(NS, "classify"))
    command = {j["metadata"]["name"]: j["spec"]["template"]["spec"]["containers"][0]["command"] for j in jobs}
    assert command["generate-weak-s1-r1"][-4:] == ["--seed", "1", "--round", "1"]


async def test_a_generation_experiment_with_an_encoder_is_rejected(cluster, operator, experiment_spec, wait_for):
    await operator("--namespace", NS)
    await cluster.create_experiment(NS, "encoder", experiment_spec(**{**GENERATION, "strong": {"model": "minilm"}}))
    status = await wait_for(
        lambda: (s := cluster.experiment(NS, "encoder").get("status")) and s.get("phase") == "Invalid" and s,
        what="the rejection",
    )
    assert status["message"].startswith(
        "spec.strong.model: is an encoder preset, which cannot write answers (got 'minilm')"
    )
    assert cluster.jobs(NS) == []
