"""Stage keys hash the ``Output`` fields a stage reads (mixed precision included), never a runtime-only one."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ensemw2s.spec import ExperimentSpec, Stage, StageKind, StrongVariant, parse_spec
from ensemw2s.spec.fields import FieldRole, fields_with_role
from ensemw2s.trainer.keys import stage_keys

SPEC: dict[str, Any] = {
    "seeds": [1],
    "dataset": {"name": "synthetic-sentiment", "sizes": {"easy": 8, "val": 4, "hardTrain": 8, "hardTest": 4}},
    "weak": {"model": "tiny-weak", "rounds": 2},
    "strong": {"model": "tiny-strong"},
    "storage": {"pvc": {"claimName": "artifacts"}},
}

OTHER_VALUES: dict[str, Any] = {
    "image": "ghcr.io/ensemw2s/trainer:9.9.9",
    "weak.training.checkpointEverySteps": 7,
    "weak.resources": {"gpus": 1, "cpu": "2", "memory": "4Gi"},
    "strong.training.checkpointEverySteps": 0,
    "strong.resources": {"gpus": 2},
    "strong.nodes": 4,
    "runtime.threads": 3,
    "storage.pvc": {"claimName": "elsewhere", "subPath": "x"},
    "storage.uri": "s3://bucket/prefix",
    "storage.secretRef": "store-credentials",
    "storage.hfTokenSecretRef": "hf-token",
    "runPolicy": {"backoffLimit": 0, "suspend": True, "deleteArtifacts": True},
    "scheduling": {"nodeSelector": {"pool": "gpu"}, "queueName": "q"},
}
"""A different value for every field that is in no key (the test below checks the list is complete)."""

NOT_IN_KEYS = fields_with_role(ExperimentSpec, FieldRole.RUNTIME, FieldRole.LOCATION)


def changed(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(SPEC)
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    if path == "storage.uri":
        data["storage"].pop("pvc")
    return data


def test_every_field_in_no_key_has_an_example_value() -> None:
    assert set(OTHER_VALUES) == set(NOT_IN_KEYS)


@pytest.mark.parametrize("path", NOT_IN_KEYS)
def test_a_runtime_only_or_location_field_changes_no_key(path: str) -> None:
    before, after = parse_spec(SPEC), parse_spec(changed(path, OTHER_VALUES[path]))
    assert before != after
    assert stage_keys(after) == stage_keys(before)


@pytest.mark.parametrize(("old", "new"), [("no", "bf16"), ("auto", "fp16"), ("bf16", "fp16")])
def test_mixed_precision_changes_every_training_stage_key(old: str, new: str) -> None:
    before = stage_keys(parse_spec(changed("runtime.mixedPrecision", old)))
    after = stage_keys(parse_spec(changed("runtime.mixedPrecision", new)))
    strong = Stage(StageKind.STRONG, 1, variant=StrongVariant.ENSEMBLE)
    assert before[strong] != after[strong]
    same = {stage.kind for stage in before if before[stage] == after[stage]}
    assert same == {StageKind.PREPARE}, "prepare (no k-fold difficulty) trains nothing"


def test_k_fold_difficulty_makes_prepare_depend_on_precision() -> None:
    kfold = changed("dataset.difficulty", {"method": "kfold"})
    before = stage_keys(parse_spec(kfold))
    kfold["runtime"] = {"mixedPrecision": "bf16"}
    assert before[Stage(StageKind.PREPARE, 1)] != stage_keys(parse_spec(kfold))[Stage(StageKind.PREPARE, 1)]


UPSTREAM = {"prepare-s1", "weak-s1-r0", "weak-s1-r1"}


@pytest.mark.parametrize(
    ("path", "value", "unchanged"),
    [
        ("strong.training.learningRate", 0.002, UPSTREAM | {"aggregate-s1"}),
        ("strong.loss", "logconf", UPSTREAM | {"aggregate-s1", "strong-s1-ceiling"}),
        ("ensemble.combine", "vote", UPSTREAM | {"strong-s1-w2s", "strong-s1-ceiling"}),
        ("weak.rounds", 3, UPSTREAM | {"strong-s1-w2s", "strong-s1-ceiling"}),
        ("dataset.sizes", {"easy": 9, "val": 4, "hardTrain": 8, "hardTest": 4}, set()),
    ],
)
def test_an_output_field_changes_the_stages_that_read_it(path: str, value: Any, unchanged: set[str]) -> None:
    before, after = stage_keys(parse_spec(SPEC)), stage_keys(parse_spec(changed(path, value)))
    assert {stage.name for stage in before if after.get(stage) == before[stage]} == unchanged
