"""Local validation is exactly as strict about types as the CRD's schema: both accept, or both refuse."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from ensemw2s.operator.crd import experiment_json_schema
from ensemw2s.spec import SpecError, parse_manifest

STRICT = experiment_json_schema()
VALIDATOR = jsonschema.validators.validator_for(STRICT)(STRICT)
BASE: dict[str, Any] = {
    "apiVersion": "ensemw2s.io/v1alpha1",
    "kind": "EnsemW2SExperiment",
    "metadata": {"name": "types"},
    "spec": {
        "seeds": [1, 2],
        "dataset": {"name": "synthetic-sentiment", "sizes": {"easy": 8, "val": 4, "hardTrain": 8, "hardTest": 4}},
        "weak": {"model": "tiny-weak", "rounds": 2},
        "strong": {"model": "tiny-strong"},
        "storage": {"pvc": {"claimName": "artifacts"}},
    },
}


def with_value(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    node = data["spec"]
    *parents, leaf = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return data


def locally_valid(data: dict[str, Any]) -> bool:
    try:
        parse_manifest(data)
    except SpecError:
        return False
    return True


def cluster_valid(data: dict[str, Any]) -> bool:
    return bool(VALIDATOR.is_valid(data))


CASES: list[tuple[str, Any, bool]] = [
    # Booleans are not numbers (YAML's yes/no are booleans too).
    ("weak.rounds", True, False),
    ("seeds", [True, False], False),
    ("dataset.sizes.easy", True, False),
    ("weak.training.epochs", False, False),
    ("dataset.maxItems", True, False),
    # Numbers given as strings.
    ("weak.rounds", "3", False),
    ("strong.training.learningRate", "0.001", False),
    ("runtime.threads", "4", False),
    ("seeds", ["1"], False),
    # Floats for integers: a fraction is refused, a whole float is an integer to both.
    ("weak.rounds", 2.5, False),
    ("weak.rounds", 3.0, True),
    ("seeds", [1.0, 2], True),
    ("runPolicy.activeDeadlineSeconds", 60.0, True),
    # Integers for floats (JSON Schema's number includes them).
    ("weak.training.epochs", 3, True),
    ("strong.training.weightDecay", 0, True),
    # Booleans: only true and false.
    ("baselines.w2s", 1, False),
    ("baselines.ceiling", "yes", False),
    ("runPolicy.suspend", "false", False),
    ("runPolicy.suspend", False, True),
    # Strings: no numbers or booleans.
    ("image", 123, False),
    ("weak.model", True, False),
    ("storage.pvc.claimName", 5, False),
    ("scheduling.nodeSelector", {"gpu": True}, False),
    ("scheduling.nodeSelector", {"gpu": "a100"}, True),
    # Enums: their strings, nothing else.
    ("ensemble.combine", "vote", True),
    ("ensemble.combine", 1, False),
    ("runtime.mixedPrecision", "bf16", True),
    ("runtime.mixedPrecision", "BF16", False),
    ("runtime.mixedPrecision", True, False),
    # null where a field is optional, and only there.
    ("runtime.threads", None, True),
    ("weak.rounds", None, False),
    # Lists and maps keep their shapes.
    ("seeds", 1, False),
    ("dataset.sizes", [8, 4, 8, 4], False),
]


@pytest.mark.parametrize(("path", "value", "valid"), CASES, ids=[f"{p}={v!r}" for p, v, _ in CASES])
def test_local_validation_and_the_crd_agree_on_types(path: str, value: Any, valid: bool) -> None:
    data = with_value(path, value)
    assert (locally_valid(data), cluster_valid(data)) == (valid, valid)


def test_the_base_case_is_valid_both_ways() -> None:
    assert locally_valid(BASE) and cluster_valid(BASE)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("weak.rounds", True, "spec.weak.rounds: must be an integer (got True)"),
        ("strong.training.learningRate", "0.001", "spec.strong.training.learningRate: must be a number (got '0.001')"),
        ("baselines.w2s", 1, "spec.baselines.w2s: must be true or false (got 1)"),
        ("seeds", [1, 2.5], "spec.seeds[1]: must be an integer (got 2.5)"),
    ],
)
def test_a_type_error_names_the_field_and_the_value(path: str, value: Any, message: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_manifest(with_value(path, value))
    assert str(raised.value) == message
