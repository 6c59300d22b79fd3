"""spec.dataset.format and spec.dataset.numClasses: defaults, accepted values, errors in the project's formula."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ensemw2s.spec import ExampleFormat, SpecError, parse_manifest

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"


def manifest_with(**dataset: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(QUICKSTART.read_text())
    data["spec"]["dataset"].update(dataset)
    return data


def test_defaults_keep_the_binary_formatting_and_infer_k() -> None:
    dataset = parse_manifest(manifest_with()).spec.dataset
    assert dataset.format is ExampleFormat.BINARY
    assert dataset.num_classes is None
    written = dataset.to_json_dict()
    assert written["format"] == "binary" and written["numClasses"] is None


@pytest.mark.parametrize(("example_format", "num_classes"), [("choices", 4), ("binary", 2), ("choices", None)])
def test_format_and_num_classes_are_read(example_format: str, num_classes: int | None) -> None:
    dataset = parse_manifest(manifest_with(format=example_format, numClasses=num_classes)).spec.dataset
    assert dataset.format is ExampleFormat(example_format)
    assert dataset.num_classes == num_classes


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"format": "kway"},
            "spec.dataset.format: must be one of 'binary' or 'choices' (got 'kway')",
        ),
        ({"numClasses": 1}, "spec.dataset.numClasses: must be >= 2 (got 1)"),
        ({"numClasses": 0}, "spec.dataset.numClasses: must be >= 2 (got 0)"),
        ({"numClasses": 5000}, "spec.dataset.numClasses: must be <= 1024 (got 5000)"),
        ({"numClasses": "four"}, "spec.dataset.numClasses: must be an integer (got 'four')"),
        ({"numClasses": 2.5}, "spec.dataset.numClasses: must be an integer (got 2.5)"),
    ],
)
def test_bad_values_name_the_field_and_value(changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_manifest(manifest_with(**changes))
    assert expected in str(caught.value)
