"""``minilm-l1`` .. ``minilm-l3``: the shipped pretrained MiniLM cut to its first k layers, with a fresh head."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from ensemw2s.spec import MODEL_PRESETS, ExperimentSpec, Severity, load_manifest, parse_spec, semantic_problems
from ensemw2s.trainer.models import (
    PRESETS,
    Classifier,
    LoadedClassifier,
    ModelError,
    SequenceClassifier,
    load_classifier,
    load_tokenizer,
)
from ensemw2s.trainer.models import loading as loading_module
from torch import Tensor

TRUNCATED = {"minilm-l1": 1, "minilm-l2": 2, "minilm-l3": 3}
TEXTS = ["the movie was great", "a dull, slow plot", "Q: Which planet is red? A: Mars."]
QUICKSTART = Path(__file__).resolve().parents[3] / "examples" / "quickstart.yaml"


@pytest.fixture(scope="module")
def full_minilm() -> dict[str, Tensor]:
    """The full 6-layer minilm preset's weights, seed 0."""
    return dict(load_classifier("minilm", 2, None, seed=0).model.state_dict())


def _logits(loaded: LoadedClassifier | Classifier, tokenizer_of: LoadedClassifier) -> Tensor:
    model = loaded.model if isinstance(loaded, LoadedClassifier) else loaded
    encoded = tokenizer_of.tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        return model.eval()(encoded["input_ids"], encoded["attention_mask"])


@pytest.mark.parametrize(("name", "layers"), sorted(TRUNCATED.items()))
def test_presets_carry_their_truncation(name: str, layers: int) -> None:
    preset = PRESETS[name]
    assert preset.layers == layers and preset.pretrained
    assert preset.weights is PRESETS["minilm"].weights and PRESETS["minilm"].layers is None


@pytest.mark.parametrize(("name", "layers"), sorted(TRUNCATED.items()))
def test_truncated_model_is_the_pretrained_prefix(name: str, layers: int, full_minilm: dict[str, Tensor]) -> None:
    loaded = load_classifier(name, 2, None, seed=0)
    assert isinstance(loaded.model, SequenceClassifier) and loaded.preset_name == name
    assert loaded.model.backbone.config.num_hidden_layers == layers
    assert len(loaded.model.backbone.base_model.encoder.layer) == layers
    weights = dict(loaded.model.state_dict())
    kept = {key for key in full_minilm if not key.startswith("model.bert.encoder.layer.")}
    kept |= {key for key in full_minilm if any(f".encoder.layer.{i}." in key for i in range(layers))}
    assert set(weights) == kept
    # embeddings, layers 0..k-1, pooler and (same seed) the fresh head: all equal to the full minilm's
    for key, value in weights.items():
        assert torch.equal(value, full_minilm[key]), key


def test_same_seed_is_identical_and_another_seed_changes_the_head_only() -> None:
    first = dict(load_classifier("minilm-l2", 2, None, seed=5).model.state_dict())
    again = dict(load_classifier("minilm-l2", 2, None, seed=5).model.state_dict())
    other = dict(load_classifier("minilm-l2", 2, None, seed=6).model.state_dict())
    assert all(torch.equal(first[key], again[key]) for key in first)
    differing = {key for key in first if not torch.equal(first[key], other[key])}
    assert differing == {"model.classifier.weight"}  # the bias starts at zero for every seed


def test_predictions_survive_save_and_load(tmp_path: Path) -> None:
    loaded = load_classifier("minilm-l2", 2, None, seed=3)
    expected = _logits(loaded, loaded)
    loaded.save(tmp_path / "loaded")
    reloaded = LoadedClassifier.load(tmp_path / "loaded")
    assert reloaded.preset_name == "minilm-l2"
    assert reloaded.model.backbone.config.num_hidden_layers == 2
    assert torch.equal(_logits(reloaded, reloaded), expected)
    loaded.model.save(tmp_path / "bare")
    assert torch.equal(_logits(Classifier.load(tmp_path / "bare"), loaded), expected)
    resumed = load_classifier(str(tmp_path / "loaded"), 2, None, seed=99)  # a saved classifier as a model
    assert torch.equal(_logits(resumed, resumed), expected)


def test_load_tokenizer_builds_no_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    paired = load_classifier("minilm-l1", 2, None, seed=0).tokenizer

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("load_tokenizer built model weights")

    monkeypatch.setattr(loading_module.AutoModelForSequenceClassification, "from_pretrained", refuse)
    monkeypatch.setattr(loading_module.AutoModel, "from_pretrained", refuse)
    alone = load_tokenizer("minilm-l1", None, field="spec.weak.model")
    assert alone(TEXTS)["input_ids"] == paired(TEXTS)["input_ids"]
    assert alone.pad_token_id == paired.pad_token_id and alone.padding_side == "right"


def test_loading_prints_no_report_and_restores_verbosity(capfd: pytest.CaptureFixture[str]) -> None:
    import transformers

    before = transformers.logging.get_verbosity()
    load_classifier("minilm-l2", 2, None, seed=0)
    captured = capfd.readouterr()
    assert "UNEXPECTED" not in captured.err and "LOAD REPORT" not in captured.err and captured.err == ""
    assert transformers.logging.get_verbosity() == before


@pytest.mark.parametrize("name", ["minilm", *sorted(TRUNCATED)])
def test_catalog_parameter_counts_are_within_five_percent(name: str) -> None:
    real = sum(parameter.numel() for parameter in load_classifier(name, 2, None, seed=0).model.parameters())
    assert abs(MODEL_PRESETS[name].parameters - real) <= 0.05 * real


def _spec(weak: str, strong: str) -> ExperimentSpec:
    data = load_manifest(QUICKSTART).spec.to_json_dict()
    data["weak"]["model"], data["strong"]["model"] = weak, strong
    return parse_spec(data)


@pytest.mark.parametrize(
    ("weak", "strong", "warned"),
    [("minilm-l2", "minilm", False), ("minilm-l1", "minilm-l3", False), ("minilm", "minilm-l2", True)],
)
def test_strong_not_bigger_than_weak_warning(weak: str, strong: str, warned: bool) -> None:
    found = [p for p in semantic_problems(_spec(weak, strong)) if p.path == "spec.strong.model"]
    assert [p.severity for p in found] == ([Severity.WARNING] if warned else [])


def test_an_unknown_name_near_the_presets_gets_a_suggestion(offline_hub: None) -> None:
    with pytest.raises(ModelError) as caught:
        load_classifier("minilm-l9", 2, None, seed=0, field="spec.weak.model")
    message = str(caught.value)
    assert message.startswith("spec.weak.model: 'minilm-l9' is not a preset, a local directory or a Hugging Face")
    assert "did you mean 'minilm-l" in message
    found = [str(p) for p in semantic_problems(_spec("minilm-l9", "minilm"))]
    assert len(found) == 1 and "(got 'minilm-l9'); did you mean 'minilm-l" in found[0]


def test_a_preset_deeper_than_its_checkpoint_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    deep = dataclasses.replace(PRESETS["minilm-l3"], name="minilm-l7", layers=7)
    monkeypatch.setattr(loading_module, "find_preset", lambda name: deep if name == "minilm-l7" else None)
    with pytest.raises(ModelError) as caught:
        load_classifier("minilm-l7", 2, None, seed=0, field="spec.weak.model")
    assert str(caught.value).startswith(
        "spec.weak.model: preset 'minilm-l7' must keep between 1 and 6 layers (its pretrained model's count) (got 7)"
    )
