"""The spec model: defaults, YAML loading and field-path errors in the project's formula."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from ensemw2s.spec import (
    ExperimentManifest,
    SpecError,
    load_manifest,
    parse_manifest,
    parse_spec,
)

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart.yaml"


@pytest.fixture
def manifest_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(QUICKSTART.read_text())
    return data


def test_quickstart_loads_with_defaults() -> None:
    manifest = load_manifest(QUICKSTART)
    assert manifest.name == "quickstart"
    assert manifest.namespace == "default"
    assert manifest.spec.weak.rounds >= 1
    assert manifest.spec.ensemble.method.value == "adaboost"
    assert manifest.spec.run_policy.backoff_limit == 2


def test_round_trip_through_json_keeps_everything() -> None:
    manifest = load_manifest(QUICKSTART)
    again = parse_manifest(manifest.to_json_dict())
    assert again == manifest


def test_camel_case_names_match_the_resource_shape() -> None:
    data = load_manifest(QUICKSTART).to_json_dict()
    assert "hardTrain" in data["spec"]["dataset"]["sizes"]
    assert "errorEstimate" in data["spec"]["weak"]
    assert "sampleWeighting" in data["spec"]["weak"]
    assert data["apiVersion"] == "ensemw2s.io/v1alpha1"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("spec", "weak", "rounds"), 0, "spec.weak.rounds: must be >= 1 (got 0)"),
        (("spec", "dataset", "sizes", "hardTrain"), -5, "spec.dataset.sizes.hardTrain: must be >= 1 (got -5)"),
        (
            ("spec", "weak", "sampleWeighting"),
            "boost",
            "spec.weak.sampleWeighting: must be one of 'weighted_loss' or 'resample' (got 'boost')",
        ),
        (("spec", "weak", "typo"), 1, "spec.weak.typo: unknown field"),
        (
            ("spec", "baselines", "w2sLabels"),
            "hard",
            "spec.baselines.w2sLabels: unknown field; replaced by spec.strong.pseudoLabels (soft or hard), which "
            "applies to both students",
        ),
        (
            ("spec", "weak", "errorEstimate"),
            "holdout",
            "spec.weak.errorEstimate: must be one of 'crossfit' or 'train' (got 'holdout')",
        ),
        (("spec", "seeds"), [], "spec.seeds: must have at least 1 items"),
        (("spec", "strong", "resources", "memory"), "lots", "spec.strong.resources.memory: must match"),
        (("metadata", "name"), "Bad_Name", "metadata.name: must be a DNS label"),
        (("kind",), "Experiment", "kind: must be EnsemW2SExperiment (got 'Experiment')"),
        (("spec", "storage", "uri"), "s3://b", "spec.storage: set either pvc or uri"),
    ],
)
def test_errors_name_the_field_and_value(
    manifest_data: dict[str, Any], path: tuple[str, ...], value: Any, expected: str
) -> None:
    data = copy.deepcopy(manifest_data)
    target = data
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    if path[:2] == ("spec", "storage"):
        data["spec"]["storage"]["pvc"] = {"claimName": "x"}
    with pytest.raises(SpecError) as caught:
        parse_manifest(data)
    assert expected in str(caught.value)


def test_several_problems_are_reported_together(manifest_data: dict[str, Any]) -> None:
    manifest_data["spec"]["weak"]["rounds"] = 0
    manifest_data["spec"]["strong"]["nodes"] = 0
    with pytest.raises(SpecError) as caught:
        parse_manifest(manifest_data)
    paths = [p.path for p in caught.value.problems]
    assert paths == ["spec.weak.rounds", "spec.strong.nodes"]


def test_missing_required_sections() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec({"dataset": {"name": "sciq", "sizes": {"easy": 1, "val": 1, "hardTrain": 1, "hardTest": 1}}})
    messages = str(caught.value)
    assert "spec.weak: required field is missing" in messages
    assert "spec.strong: required field is missing" in messages


def test_duplicate_seeds_are_rejected(manifest_data: dict[str, Any]) -> None:
    manifest_data["spec"]["seeds"] = [1, 1]
    with pytest.raises(SpecError, match=r"spec.seeds: .*seeds must be distinct"):
        parse_manifest(manifest_data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n- b\n", r"must be a mapping with apiVersion, kind, metadata and spec \(got 'a list'\)"),
        ("spec: [unclosed\n", "is not valid YAML"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, expected: str) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(text)
    with pytest.raises(SpecError, match=expected):
        load_manifest(file)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="file not found"):
        load_manifest(tmp_path / "nope.yaml")


def test_manifest_is_frozen() -> None:
    manifest = load_manifest(QUICKSTART)
    with pytest.raises(ValueError):
        manifest.spec.weak.rounds = 3  # type: ignore[misc]
    assert isinstance(manifest, ExperimentManifest)


def test_a_document_of_another_kind_is_one_clear_error(tmp_path: Path) -> None:
    file = tmp_path / "pvc.yaml"
    file.write_text(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: x}\nspec: {accessModes: [ReadWriteOnce]}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_manifest(file)
    assert (
        str(caught.value)
        == "kind: must be EnsemW2SExperiment (got 'PersistentVolumeClaim'); this document is not an experiment"
    )


def test_the_experiment_is_found_in_a_multi_document_file(tmp_path: Path) -> None:
    pvc = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: x}\n"
    file = tmp_path / "both.yaml"
    file.write_text(pvc + "---\n" + QUICKSTART.read_text())
    assert load_manifest(file).name == "quickstart"
    file.write_text(pvc + "---\n" + pvc)
    with pytest.raises(
        SpecError,
        match=r"must hold exactly one EnsemW2SExperiment document \(got '0 among PersistentVolumeClaim, PersistentVolumeClaim'\)",
    ):
        load_manifest(file)


def test_an_empty_file(tmp_path: Path) -> None:
    file = tmp_path / "empty.yaml"
    file.write_text("# nothing\n")
    with pytest.raises(SpecError, match="must be a mapping with apiVersion, kind, metadata and spec"):
        load_manifest(file)
