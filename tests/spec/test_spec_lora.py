"""``lora`` on spec.weak and spec.strong: its schema, its semantic checks, and that leaving it out changes nothing."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ensemw2s.spec import Severity, SpecError, parse_spec, semantic_problems
from ensemw2s.spec.experiment import ALL_LINEAR

SPEC: dict[str, Any] = {
    "dataset": {"name": "synthetic-sentiment", "sizes": {"easy": 8, "val": 4, "hardTrain": 8, "hardTest": 4}},
    "weak": {"model": "minilm-l1"},
    "strong": {"model": "minilm"},
}


def with_lora(section: str, lora: Any) -> dict[str, Any]:
    data = copy.deepcopy(SPEC)
    data[section]["lora"] = lora
    return data


def test_defaults_adapt_every_linear_layer() -> None:
    lora = parse_spec(with_lora("strong", {})).strong.lora
    assert lora is not None
    assert (lora.r, lora.alpha, lora.dropout, lora.target_modules) == (8, 16.0, 0.0, [ALL_LINEAR])


def test_without_lora_the_field_is_absent_from_the_spec_as_written() -> None:
    spec = parse_spec(SPEC)
    assert spec.weak.lora is None and spec.strong.lora is None
    dumped = spec.to_json_dict()
    assert "lora" not in dumped["weak"] and "lora" not in dumped["strong"]
    assert parse_spec(dumped) == spec


@pytest.mark.parametrize(
    ("lora", "expected"),
    [
        ({"r": 0}, "spec.weak.lora.r: must be >= 1 (got 0)"),
        ({"alpha": 0}, "spec.weak.lora.alpha: must be > 0"),
        ({"dropout": 1}, "spec.weak.lora.dropout: must be < 1"),
        ({"dropout": -0.1}, "spec.weak.lora.dropout: must be >= 0"),
        ({"targetModules": []}, "spec.weak.lora.targetModules: must have at least 1"),
        ({"targetModules": ALL_LINEAR}, "spec.weak.lora.targetModules: must be a list (got 'all-linear')"),
        ({"targetModules": [""]}, "spec.weak.lora.targetModules[0]: must have at least 1 character"),
        ({"rank": 4}, "spec.weak.lora.rank: unknown field"),
    ],
)
def test_schema_errors_name_the_field(lora: dict[str, Any], expected: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_spec(with_lora("weak", lora))
    assert expected in str(raised.value)


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        ([ALL_LINEAR, "query"], "names 'all-linear' beside other modules"),
        (["query", "value", "query"], "names a module twice (got ['query'])"),
        (["query key"], "holds a name with spaces"),
    ],
)
def test_target_modules_peft_cannot_match_are_errors(targets: list[str], expected: str) -> None:
    spec = parse_spec(with_lora("strong", {"targetModules": targets}))
    found = [p for p in semantic_problems(spec) if p.path == "spec.strong.lora.targetModules"]
    assert [p.severity for p in found] == [Severity.ERROR]
    assert expected in found[0].message


def test_named_modules_and_all_linear_alone_pass() -> None:
    for targets in (["query", "value"], [ALL_LINEAR]):
        spec = parse_spec(with_lora("strong", {"targetModules": targets}))
        assert not [p for p in semantic_problems(spec) if "lora" in p.path]


def test_adapters_on_a_random_preset_are_a_warning() -> None:
    data = with_lora("weak", {"r": 4})
    data["weak"]["model"] = "tiny-weak"
    found = [p for p in semantic_problems(parse_spec(data)) if p.path == "spec.weak.lora"]
    assert [p.severity for p in found] == [Severity.WARNING]
    assert "randomly initialised preset 'tiny-weak'" in found[0].message
