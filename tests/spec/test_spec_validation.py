"""Checks beyond the schema, shared by w2sctl validate, local runs and the operator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ensemw2s.spec import Severity, SpecError, Target, load_manifest, parse_spec, semantic_problems, validate_spec

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"


def spec_with(**changes: Any) -> Any:
    data = load_manifest(QUICKSTART).spec.to_json_dict()
    for dotted, value in changes.items():
        target = data
        keys = dotted.split("__")
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return parse_spec(data)


def messages(spec: Any, target: Target = Target.LOCAL) -> list[str]:
    return [str(p) for p in semantic_problems(spec, target)]


def test_quickstart_is_valid_locally() -> None:
    assert validate_spec(load_manifest(QUICKSTART).spec) == []


def test_unknown_dataset_suggests_the_closest_name() -> None:
    found = messages(spec_with(dataset__name="sciqq"))
    assert found == [
        "spec.dataset.name: unknown dataset (got 'sciqq'); did you mean 'sciq'? known: amazon_polarity, arc-challenge, "
        "arc-easy, boolq, cosmos_qa, local, quartz, sciq, synthetic-sentiment, synthetic-topics; "
        "or set spec.dataset.source"
    ]


def test_unknown_model_preset() -> None:
    found = messages(spec_with(weak__model="tiny-wek"))
    assert len(found) == 1
    assert found[0].startswith(
        "spec.weak.model: is not a preset, a Hugging Face id (org/name) or a path (got 'tiny-wek'); did you mean 'tiny-weak'?"
    )


@pytest.mark.parametrize("model", ["gpt2", "Qwen/Qwen1.5-0.5B", "./models/mine", "/abs/path", "minilm"])
def test_model_references_accepted(model: str) -> None:
    assert not [
        p
        for p in semantic_problems(spec_with(strong__model=model))
        if p.path == "spec.strong.model" and p.severity is Severity.ERROR
    ]


def test_strong_not_bigger_than_weak_is_a_warning() -> None:
    found = semantic_problems(spec_with(weak__model="gpt2-medium", strong__model="gpt2"))
    assert [(p.path, p.severity) for p in found] == [("spec.strong.model", Severity.WARNING)]


def test_sizes_above_max_items() -> None:
    found = messages(spec_with(dataset__maxItems=100))
    assert any(
        m.startswith(
            "spec.dataset.sizes: easy + val + hardTrain + hardTest = 1800 exceeds spec.dataset.maxItems (got 100)"
        )
        for m in found
    )


def test_local_dataset_needs_a_source() -> None:
    assert "spec.dataset.source: is required when spec.dataset.name is 'local'; give a JSONL or CSV path" in messages(
        spec_with(dataset__name="local")
    )


def test_generation_is_refused_until_implemented() -> None:
    assert any(
        m.startswith("spec.task: generation is not implemented yet") for m in messages(spec_with(task="generation"))
    )


def test_cluster_needs_shared_storage() -> None:
    spec = spec_with()
    assert messages(spec) == []
    found = messages(spec, Target.CLUSTER)
    assert found == [
        "spec.storage: needs pvc or uri on a cluster (stages share artifacts); set spec.storage.pvc.claimName or spec.storage.uri"
    ]
    with pytest.raises(SpecError):
        validate_spec(spec, Target.CLUSTER)


def test_bagging_ignores_resampling_with_a_warning() -> None:
    found = semantic_problems(spec_with(ensemble__method="bagging", weak__sampleWeighting="resample"))
    assert [p.severity for p in found] == [Severity.WARNING]
