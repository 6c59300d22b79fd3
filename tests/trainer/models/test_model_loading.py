from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ensemw2s.spec import HeadKind
from ensemw2s.trainer.models import (
    LastTokenClassifier,
    LoadedClassifier,
    ModelError,
    SequenceClassifier,
    build_word_tokenizer,
    load_classifier,
    resolve_head,
)
from transformers import BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel


def _ids(loaded: LoadedClassifier, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    encoded = loaded.tokenizer(texts, padding=True, return_tensors="pt")
    return encoded["input_ids"], encoded["attention_mask"]


@pytest.mark.parametrize(("name", "kind"), [("tiny-weak", LastTokenClassifier), ("tiny-strong", SequenceClassifier)])
def test_presets_build_from_the_corpus(name: str, kind: type, corpus: list[str]) -> None:
    loaded = load_classifier(name, 3, corpus, seed=1)
    assert isinstance(loaded.model, kind) and loaded.preset_name == name
    assert loaded.model.num_labels == 3 and loaded.model.training
    assert loaded.model.backbone.config.vocab_size == len(loaded.tokenizer)
    ids, mask = _ids(loaded, corpus)
    assert loaded.model(ids, mask).shape == (len(corpus), 3)


def test_seeded_and_fresh_each_call(corpus: list[str]) -> None:
    first = load_classifier("tiny-strong", 2, corpus, seed=7)
    second = load_classifier("tiny-strong", 2, corpus, seed=7)
    other = load_classifier("tiny-strong", 2, corpus, seed=8)
    assert first.model is not second.model
    for a, b in zip(first.model.parameters(), second.model.parameters(), strict=True):
        assert a is not b and torch.equal(a, b)
    assert any(not torch.equal(a, b) for a, b in zip(first.model.parameters(), other.model.parameters(), strict=True))


def test_loading_leaves_the_global_rng_alone(corpus: list[str]) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load_classifier("tiny-weak", 2, corpus, seed=0)
    assert torch.equal(torch.rand(3), expected)


def test_minilm_preset_loads_offline(offline_hub: None) -> None:
    loaded = load_classifier("minilm", 2, None, seed=0)
    assert isinstance(loaded.model, SequenceClassifier) and loaded.preset_name == "minilm"
    ids, mask = _ids(loaded, ["a short text", "another"])
    assert loaded.model(ids, mask).shape == (2, 2)


def _save_hub_style(directory: Path, corpus: list[str], model: str) -> Path:
    tokenizer = build_word_tokenizer(corpus, 100)
    if model == "gpt2":
        config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=16, n_layer=1, n_head=2)
        GPT2LMHeadModel(config).save_pretrained(directory)
        tokenizer.pad_token = None  # like GPT-2: no pad token
    else:
        config = BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=64,
        )
        BertForMaskedLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_local_causal_lm_gets_the_last_token_head_and_eos_padding(corpus: list[str], tmp_path) -> None:
    directory = _save_hub_style(tmp_path / "gpt", corpus, "gpt2")
    loaded = load_classifier(str(directory), 2, None, seed=0)
    assert isinstance(loaded.model, LastTokenClassifier) and loaded.preset_name is None
    assert loaded.tokenizer.pad_token == loaded.tokenizer.eos_token
    assert loaded.model.backbone.dtype == torch.float32


def test_local_encoder_gets_sequence_classification(corpus: list[str], tmp_path) -> None:
    directory = _save_hub_style(tmp_path / "bert", corpus, "bert")
    loaded = load_classifier(str(directory), 4, None, seed=0)
    assert isinstance(loaded.model, SequenceClassifier) and loaded.model.num_labels == 4


def test_head_can_be_forced(corpus: list[str], tmp_path) -> None:
    directory = _save_hub_style(tmp_path / "bert", corpus, "bert")
    loaded = load_classifier(str(directory), 2, None, seed=0, head="last_token")
    assert isinstance(loaded.model, LastTokenClassifier)


def test_saved_loaded_classifier_round_trips(corpus: list[str], tmp_path) -> None:
    loaded = load_classifier("tiny-weak", 2, corpus, seed=0)
    torch.nn.init.normal_(loaded.model.score.weight)
    loaded.model.eval()
    ids, mask = _ids(loaded, corpus)
    expected = loaded.model(ids, mask)
    loaded.save(tmp_path / "saved")
    again = LoadedClassifier.load(tmp_path / "saved")
    assert again.preset_name == "tiny-weak"
    assert _ids(again, corpus)[0].tolist() == ids.tolist()
    torch.testing.assert_close(again.model(ids, mask), expected, rtol=0, atol=0)
    # a saved classifier is also a valid starting point
    restarted = load_classifier(str(tmp_path / "saved"), 2, None, seed=0)
    assert restarted.model.training


def test_resolve_head_falls_back_to_the_model_type() -> None:
    assert resolve_head(GPT2Config(), "x", "model") is HeadKind.LAST_TOKEN
    assert resolve_head(BertConfig(), "x", "model") is HeadKind.SEQUENCE_CLASSIFICATION
    assert resolve_head(BertConfig(architectures=["BertModel"]), "x", "model") is HeadKind.SEQUENCE_CLASSIFICATION


def test_resolve_head_gives_up_on_unknown_types() -> None:
    from transformers import PretrainedConfig

    with pytest.raises(ModelError, match=r"spec.weak.model: cannot tell .* set head: last_token"):
        resolve_head(PretrainedConfig(), "odd", "spec.weak.model")


@pytest.mark.parametrize(
    ("model", "corpus", "num_labels", "head", "message"),
    [
        ("tiny-weak", None, 2, "auto", r"spec.weak.model: preset 'tiny-weak' builds its word-level tokenizer"),
        ("tiny-weak", [], 2, "auto", r"corpus is empty or missing; pass corpus="),
        ("tiny-weak", ["a"], 1, "auto", r"num_labels: must be >= 2 \(got 1\)"),
        ("tiny-weak", ["a"], 2, "pooled", r"spec.weak.head: is not a head kind .* \(got 'pooled'\)"),
        ("./no/such/dir", None, 2, "auto", r"spec.weak.model: local directory does not exist \(got './no/such/dir'\)"),
        ("bad id!", None, 2, "auto", r"'bad id!' is not a preset, a local directory or a Hugging Face model id"),
    ],
)
def test_invalid_references(model, corpus, num_labels, head, message) -> None:
    with pytest.raises(ModelError, match=message):
        load_classifier(model, num_labels, corpus, seed=0, head=head, field="spec.weak.model")


def test_a_file_is_not_a_model_directory(tmp_path) -> None:
    path = tmp_path / "model.bin"
    path.write_text("x")
    with pytest.raises(ModelError, match=r"is a file; a local model must be a directory"):
        load_classifier(str(path), 2, None, seed=0)


def test_unknown_hub_id_names_the_field_and_the_presets(offline_hub: None) -> None:
    with pytest.raises(ModelError) as caught:
        load_classifier("tiny-wek", 2, None, seed=0, field="spec.weak.model")
    message = str(caught.value)
    assert message.startswith("spec.weak.model: 'tiny-wek' is not a preset, a local directory or a Hugging Face")
    assert "presets: minilm, minilm-l1, minilm-l2, minilm-l3, smollm2-135m, tiny-strong, tiny-weak" in message
    assert "did you mean 'tiny-weak'?" in message
    assert "HF_HUB_OFFLINE" in message


def test_saved_classifier_with_other_classes_is_refused(corpus: list[str], tmp_path) -> None:
    load_classifier("tiny-weak", 2, corpus, seed=0).save(tmp_path / "saved")
    with pytest.raises(ModelError, match=r"has 2 classes, the task has 3"):
        load_classifier(str(tmp_path / "saved"), 3, None, seed=0)


def test_tokenizer_without_any_fallback_token_is_refused(corpus: list[str], tmp_path) -> None:
    directory = _save_hub_style(tmp_path / "gpt", corpus, "gpt2")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    tokenizer.pad_token = tokenizer.eos_token = tokenizer.unk_token = None
    tokenizer.save_pretrained(directory)
    with pytest.raises(ModelError, match=r"has no pad, EOS or UNK token to pad with"):
        load_classifier(str(directory), 2, None, seed=0)


def test_an_unreachable_hub_model_says_so(offline_hub: None) -> None:
    with pytest.raises(ModelError) as caught:
        load_classifier("some-org/some-model", 2, None, seed=0, field="spec.strong.model")
    message = str(caught.value)
    assert message.startswith(
        "spec.strong.model: cannot load 'some-org/some-model' from the Hugging Face Hub or its cache ("
    )
    assert "HF_HUB_OFFLINE=1" in message
    assert "offline presets: minilm, minilm-l1, minilm-l2, minilm-l3, smollm2-135m, tiny-strong, tiny-weak" in message


@pytest.mark.parametrize("name", ["tiny-weak", "tiny-strong", "minilm"])
def test_load_tokenizer_gives_the_classifiers_tokenizer_without_weights(name: str, corpus: list[str]) -> None:
    from ensemw2s.trainer.models import load_tokenizer

    alone = load_tokenizer(name, corpus, field="spec.weak.model")
    paired = load_classifier(name, 2, corpus, seed=0).tokenizer
    texts = [*corpus[:5], "an unseen word: zyzzyva"]
    assert alone(texts)["input_ids"] == paired(texts)["input_ids"]
    assert alone.pad_token_id == paired.pad_token_id and alone.padding_side == paired.padding_side == "right"


def test_load_tokenizer_of_an_unreachable_model(offline_hub: None) -> None:
    from ensemw2s.trainer.models import load_tokenizer

    with pytest.raises(ModelError, match=r"^spec.strong.model: cannot load the tokenizer of 'some-org/nothing' \("):
        load_tokenizer("some-org/nothing", None, field="spec.strong.model")


def test_a_truncated_weights_file_is_named(corpus: list[str], tmp_path) -> None:
    directory = _save_hub_style(tmp_path / "bert", corpus, "bert")
    weights = directory / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(ModelError) as caught:
        load_classifier(str(directory), 2, None, seed=0, field="spec.strong.model")
    message = str(caught.value)
    assert message.startswith(f"spec.strong.model: {str(weights)!r} is damaged (")
    assert "truncated or overwritten); download or save it again" in message


def test_a_damaged_config_is_named(corpus: list[str], tmp_path) -> None:
    directory = _save_hub_style(tmp_path / "bert", corpus, "bert")
    (directory / "config.json").write_text('{"model_type": "bert",')
    with pytest.raises(ModelError, match=r"^spec.weak.model: .*config.json:1: not valid JSON \(Expecting"):
        load_classifier(str(directory), 2, None, seed=0, field="spec.weak.model")


def test_a_damaged_saved_classifier_is_named(corpus: list[str], tmp_path) -> None:
    from ensemw2s.trainer.models import Classifier

    directory = tmp_path / "saved"
    load_classifier("tiny-weak", 2, corpus, seed=0).model.save(directory)
    weights = directory / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(ModelError, match=rf"^{weights}: cannot read the saved weights \(.*\); the file is damaged"):
        Classifier.load(directory)
    (directory / "classifier.json").write_text("{")
    with pytest.raises(ModelError, match=r"classifier.json: is not valid JSON \(Expecting"):
        Classifier.load(directory)


def test_a_file_url_names_a_local_directory(corpus: list[str], tmp_path) -> None:
    directory = _save_hub_style(tmp_path / "bert", corpus, "bert")
    assert isinstance(load_classifier(f"file://{directory}", 2, None, seed=0).model, SequenceClassifier)
