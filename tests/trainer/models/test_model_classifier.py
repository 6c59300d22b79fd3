from __future__ import annotations

import json

import pytest
import torch
from ensemw2s.spec import HeadKind
from ensemw2s.trainer.models import (
    Classifier,
    LastTokenClassifier,
    ModelError,
    SequenceClassifier,
    last_token_positions,
)
from torch import nn
from transformers import AutoModel, BertConfig, GPT2Config


def tiny_gpt2_classifier(num_labels: int = 3) -> LastTokenClassifier:
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=20, n_positions=32, n_embd=16, n_layer=1, n_head=2, use_cache=False)
    classifier = LastTokenClassifier(AutoModel.from_config(config), num_labels)
    nn.init.normal_(classifier.score.weight)  # a non-zero head, so positions matter
    return classifier.eval()


def tiny_bert_classifier() -> SequenceClassifier:
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=20,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        num_labels=2,
    )
    return SequenceClassifier(AutoModelForSequenceClassification.from_config(config)).eval()


def test_head_starts_at_zero() -> None:
    config = GPT2Config(vocab_size=20, n_positions=32, n_embd=16, n_layer=1, n_head=2)
    classifier = LastTokenClassifier(AutoModel.from_config(config), 2)
    logits = classifier(torch.tensor([[3, 4, 5]]), torch.ones(1, 3, dtype=torch.int64))
    assert torch.equal(logits, torch.zeros(1, 2))


def test_last_token_positions_right_and_left_padding() -> None:
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 1, 1, 1]])
    assert last_token_positions(mask).tolist() == [2, 4, 4]


def test_token_id_zero_inside_the_text_is_not_padding() -> None:
    # GPT-2's token 0 is "!": counting ids != 0 would pick the wrong position.
    classifier = tiny_gpt2_classifier()
    text = torch.tensor([[5, 0, 7, 0]])  # id 0 inside the text and as its last token
    alone = classifier(text, torch.ones_like(text))
    padded_ids = torch.tensor([[5, 0, 7, 0, 9, 9], [1, 2, 3, 4, 5, 6]])
    padded_mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    padded = classifier(padded_ids, padded_mask)
    torch.testing.assert_close(padded[0], alone[0], rtol=1e-5, atol=1e-5)
    shortened = classifier(text[:, :2], torch.ones(1, 2, dtype=torch.int64))
    assert not torch.allclose(shortened, alone)  # the last real token, not the last non-zero id


@pytest.mark.parametrize("build", [tiny_gpt2_classifier, tiny_bert_classifier], ids=["last_token", "sequence"])
def test_save_and_load_give_identical_predictions(build, tmp_path) -> None:
    classifier = build()
    ids = torch.tensor([[1, 2, 3, 4], [5, 6, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    expected = classifier(ids, mask)
    classifier.save(tmp_path / "saved")
    reloaded = Classifier.load(tmp_path / "saved")
    assert type(reloaded) is type(classifier) and reloaded.num_labels == classifier.num_labels
    assert not reloaded.training
    torch.testing.assert_close(reloaded(ids, mask), expected, rtol=0, atol=0)


def test_head_kinds() -> None:
    assert LastTokenClassifier.head_kind is HeadKind.LAST_TOKEN
    assert SequenceClassifier.head_kind is HeadKind.SEQUENCE_CLASSIFICATION


def test_load_of_a_directory_without_header_fails(tmp_path) -> None:
    with pytest.raises(ModelError, match=r"is not a saved classifier: classifier.json is missing"):
        Classifier.load(tmp_path)


def test_load_of_an_unknown_header_fails(tmp_path) -> None:
    tiny_gpt2_classifier().save(tmp_path)
    (tmp_path / "classifier.json").write_text(json.dumps({"format_version": 99, "head": "last_token"}))
    with pytest.raises(ModelError, match=r"unsupported classifier header"):
        Classifier.load(tmp_path)
