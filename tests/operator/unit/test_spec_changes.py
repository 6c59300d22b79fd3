"""Which spec fields may change on a running experiment: derived from the spec's field roles."""

from __future__ import annotations

import pytest
from ensemw2s.operator.spec_changes import MUTABLE_FIELDS, changed_fields, fixed_spec
from ensemw2s.spec import ExperimentSpec
from ensemw2s.spec.fields import FieldRole, leaf_roles


def test_the_mutable_fields_are_exactly_the_runtime_only_ones():
    roles = leaf_roles(ExperimentSpec)
    assert all(roles[path] is FieldRole.RUNTIME for path in MUTABLE_FIELDS)
    runtime_leaves = [path for path, role in roles.items() if role is FieldRole.RUNTIME]
    assert all(any(leaf == p or leaf.startswith(f"{p}.") for p in MUTABLE_FIELDS) for leaf in runtime_leaves)
    assert {"image", "runPolicy", "scheduling", "strong.nodes", "runtime.threads"} <= set(MUTABLE_FIELDS)


@pytest.mark.parametrize(
    ("spec", "mutable"),
    [
        ({"runtime": {"threads": 8}}, True),
        ({"strong": {"training": {"checkpointEverySteps": 5}}}, True),
        ({"weak": {"resources": {"gpus": 1}}}, True),
        ({"storage": {"secretRef": "creds"}}, True),
        ({"runtime": {"mixedPrecision": "bf16"}}, False),
        ({"strong": {"training": {"learningRate": 0.001}}}, False),
        ({"storage": {"pvc": {"claimName": "other"}}}, False),
    ],
)
def test_a_change_is_refused_unless_the_field_is_runtime_only(make_manifest, manifest, spec, mutable):
    changes = changed_fields(fixed_spec(manifest.spec), fixed_spec(make_manifest(spec=spec).spec))
    assert (changes == []) is mutable, changes


def test_the_fixed_spec_keeps_output_and_location_fields(manifest):
    fixed = fixed_spec(manifest.spec)
    assert fixed["runtime"] == {"mixedPrecision": "auto"}
    assert fixed["storage"] == {"pvc": {"claimName": "artifacts", "subPath": None}, "uri": None}
    assert "checkpointEverySteps" not in fixed["weak"]["training"] and "epochs" in fixed["weak"]["training"]
