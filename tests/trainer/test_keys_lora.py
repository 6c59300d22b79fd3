"""``lora`` is in the keys of the stages that train with it, and a spec without it keeps its old keys."""

from __future__ import annotations

import copy
from typing import Any

from ensemw2s.spec import parse_spec
from ensemw2s.trainer.keys import stage_keys

SPEC: dict[str, Any] = {
    "seeds": [1],
    "dataset": {"name": "synthetic-sentiment", "sizes": {"easy": 8, "val": 4, "hardTrain": 8, "hardTest": 4}},
    "weak": {"model": "tiny-weak", "rounds": 2},
    "strong": {"model": "tiny-strong"},
    "storage": {"pvc": {"claimName": "artifacts"}},
}
KEYS_BEFORE_LORA = {
    "prepare-s1": "d491cff12652",
    "weak-s1-r0": "677830e2f7e2",
    "weak-s1-r1": "bd6811df4d61",
    "aggregate-s1": "63c2a5e90496",
    "strong-s1-ensemble": "bec5867092cd",
    "strong-s1-w2s": "9bfc1e4f1aa8",
    "strong-s1-ceiling": "d571bda6fdfd",
    "report": "bfea70758c12",
}
"""SPEC's keys computed by the code before spec.*.lora existed (commit cf1096a)."""


def keys(data: dict[str, Any]) -> dict[str, str]:
    return {stage.name: key for stage, key in stage_keys(parse_spec(data)).items()}


def test_a_spec_without_lora_keeps_the_keys_it_had_before_lora() -> None:
    assert keys(SPEC) == KEYS_BEFORE_LORA


def test_weak_lora_changes_the_weak_rounds_and_what_reads_them() -> None:
    data = copy.deepcopy(SPEC)
    data["weak"]["lora"] = {"r": 4}
    after = keys(data)
    changed = {name for name in after if after[name] != KEYS_BEFORE_LORA[name]}
    assert changed == set(KEYS_BEFORE_LORA) - {"prepare-s1", "strong-s1-ceiling"}


def test_strong_lora_changes_the_students_and_the_report_only() -> None:
    data = copy.deepcopy(SPEC)
    data["strong"]["lora"] = {}
    after = keys(data)
    changed = {name for name in after if after[name] != KEYS_BEFORE_LORA[name]}
    assert changed == {"strong-s1-ensemble", "strong-s1-w2s", "strong-s1-ceiling", "report"}
    other = copy.deepcopy(data)
    other["strong"]["lora"] = {"r": 16}
    assert keys(other)["strong-s1-ceiling"] != after["strong-s1-ceiling"], "each lora setting is in the key"
