"""Each spec field's role (output, runtime-only, location), tagged once; and the strict base models."""

from __future__ import annotations

from typing import Any

import pytest
from ensemw2s.spec import ExperimentSpec, parse_spec
from ensemw2s.spec.base import StrictSpecModel, to_camel
from ensemw2s.spec.experiment import MixedPrecision
from ensemw2s.spec.fields import (
    FieldRole,
    Output,
    RuntimeOnly,
    UntaggedField,
    fields_with_role,
    leaf_roles,
    output_fields,
    tagged_fields,
    without_fields,
)
from pydantic import BaseModel

MINIMAL: dict[str, Any] = {
    "dataset": {"name": "synthetic-sentiment", "sizes": {"easy": 8, "val": 4, "hardTrain": 8, "hardTest": 4}},
    "weak": {"model": "tiny-weak"},
    "strong": {"model": "tiny-strong"},
}


def json_leaves(schema: dict[str, Any], defs: dict[str, Any], path: str = "") -> set[str]:
    """Every leaf path of a pydantic JSON Schema (sections are objects with properties)."""
    if "$ref" in schema:
        return json_leaves(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, path)
    options = [o for o in schema.get("anyOf", []) if o != {"type": "null"}]
    if len(options) == 1:
        return json_leaves(options[0], defs, path)
    if "properties" not in schema:
        return {path}
    return {leaf for key, child in schema["properties"].items() for leaf in json_leaves(child, defs, f"{path}{key}.")}


def test_every_leaf_field_of_the_spec_has_one_role() -> None:
    schema = ExperimentSpec.model_json_schema(by_alias=True)
    leaves = {leaf.rstrip(".") for leaf in json_leaves(schema, schema["$defs"])}
    roles = leaf_roles(ExperimentSpec)
    assert leaves <= set(roles), f"untagged: {sorted(leaves - set(roles))}"
    assert len(leaves) > 60


def test_the_roles_that_matter() -> None:
    roles = leaf_roles(ExperimentSpec)
    output = ["runtime.mixedPrecision", "weak.rounds", "strong.training.learningRate", "dataset.sizes.easy", "seeds"]
    runtime = ["runtime.threads", "strong.nodes", "weak.resources.gpus", "image", "runPolicy.backoffLimit"]
    runtime += ["scheduling.tolerations", "strong.training.checkpointEverySteps"]
    assert [roles[p] for p in output] == [FieldRole.OUTPUT] * len(output)
    assert [roles[p] for p in runtime] == [FieldRole.RUNTIME] * len(runtime)
    assert fields_with_role(ExperimentSpec, FieldRole.LOCATION) == ("storage.pvc", "storage.uri")
    assert roles["storage.pvc.claimName"] is FieldRole.LOCATION


class _Leaf(StrictSpecModel):
    a: int = 1


class _Untagged(BaseModel):
    tagged: Output[int] = 1
    section: _Leaf = _Leaf()


class _Twice(BaseModel):
    section: RuntimeOnly[_Tagged] = None  # type: ignore[assignment]


class _Tagged(BaseModel):
    a: Output[int] = 1


_Twice.model_rebuild()


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (_Untagged, r"_Leaf.a \(section.a\): no role; declare it as Output\[...\], RuntimeOnly\[...\] or Location"),
        (_Twice, r"_Tagged.a \(section.a\): tagged twice"),
    ],
)
def test_a_field_without_a_role_or_with_two_is_refused(model: type[BaseModel], message: str) -> None:
    with pytest.raises(UntaggedField, match=message):
        tagged_fields(model)


def test_output_fields_leave_out_runtime_and_location() -> None:
    spec = parse_spec({**MINIMAL, "runtime": {"threads": 2}, "storage": {"uri": "s3://b/p", "secretRef": "s"}})
    out = output_fields(spec)
    assert out["runtime"] == {"mixedPrecision": "auto"}
    assert "resources" not in out["weak"] and "nodes" not in out["strong"]
    assert "checkpointEverySteps" not in out["weak"]["training"]
    assert out["storage"] == {} and "image" not in out and "scheduling" not in out and "runPolicy" not in out
    assert out["dataset"] == spec.dataset.to_json_dict()


def test_without_fields_skips_null_sections_and_copies() -> None:
    data = {"a": {"b": 1, "c": 2}, "n": None}
    assert without_fields(data, ("a.b", "n.x", "missing.y")) == {"a": {"c": 2}, "n": None}
    assert data == {"a": {"b": 1, "c": 2}, "n": None}


@pytest.mark.parametrize(
    ("name", "alias"),
    [
        ("w2s_vs_weak", "w2sVsWeak"),
        ("ensemw2s_vs_ensemble", "ensemw2sVsEnsemble"),
        ("hard_test_accuracy", "hardTestAccuracy"),
        ("ensemw2s", "ensemw2s"),
    ],
)
def test_one_camel_case_alias_for_spec_and_results(name: str, alias: str) -> None:
    from ensemw2s.spec import results

    assert to_camel(name) == alias
    assert results.RoundSummary.model_config["alias_generator"] is to_camel


def test_mixed_precision_is_a_closed_choice() -> None:
    assert parse_spec({**MINIMAL, "runtime": {"mixedPrecision": "bf16"}}).runtime.mixed_precision is MixedPrecision.BF16
