from __future__ import annotations

import pytest
import torch
from ensemw2s.trainer.models import build_word_tokenizer
from ensemw2s.trainer.training import EncodedTexts, TrainingError, encode_texts

TEXTS = ["the plot was fine", "bad", "a great movie and a nice plot !"]


@pytest.fixture
def tokenizer():
    return build_word_tokenizer(TEXTS, 100)


def test_encode_once_then_pad_per_batch(tokenizer) -> None:
    encoded = encode_texts(tokenizer, TEXTS, max_length=64)
    assert len(encoded) == 3 and encoded.lengths.tolist() == [5, 2, 9]
    assert encoded.ids(1) == tokenizer("bad")["input_ids"]
    batch = encoded.batch(torch.tensor([1, 0]))
    assert batch.input_ids.shape == (2, 5) and batch.input_ids.dtype == torch.int64
    assert batch.attention_mask.tolist() == [[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]]
    assert batch.input_ids[0, 2:].tolist() == [tokenizer.pad_token_id] * 3
    assert batch.input_ids[1].tolist() == encoded.ids(0)


def test_truncation_and_model_max_length_cap(tokenizer) -> None:
    assert encode_texts(tokenizer, TEXTS, max_length=4).lengths.max() == 4
    tokenizer.model_max_length = 3
    encoded = encode_texts(tokenizer, TEXTS, max_length=64)
    assert encoded.max_length == 3 and encoded.lengths.max() == 3


def test_save_and_load(tokenizer, tmp_path) -> None:
    encoded = encode_texts(tokenizer, TEXTS, max_length=64)
    encoded.save(tmp_path / "encoded.safetensors")
    again = EncodedTexts.load(tmp_path / "encoded.safetensors")
    assert torch.equal(again.token_ids, encoded.token_ids) and torch.equal(again.offsets, encoded.offsets)
    assert (again.pad_id, again.max_length) == (encoded.pad_id, encoded.max_length)


def test_subset_keeps_the_given_order(tokenizer) -> None:
    encoded = encode_texts(tokenizer, TEXTS, max_length=64)
    part = encoded.subset([2, 0])
    assert [part.ids(0), part.ids(1)] == [encoded.ids(2), encoded.ids(0)]


def test_load_refuses_other_files(tmp_path) -> None:
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(TrainingError, match=r"is not an encoded-texts file"):
        EncodedTexts.load(tmp_path / "other.safetensors")


def test_empty_inputs_are_refused(tokenizer) -> None:
    with pytest.raises(TrainingError, match=r"texts: is empty"):
        encode_texts(tokenizer, [], max_length=8)
    tokenizer.post_processor = None  # no special tokens: an empty text has no tokens
    tokenizer.backend_tokenizer.post_processor = None
    with pytest.raises(TrainingError, match=r"texts\[1\]: encodes to no tokens \(got ''\)"):
        encode_texts(tokenizer, ["bad", ""], max_length=8)


def test_missing_pad_token_is_refused(tokenizer) -> None:
    tokenizer.pad_token = None
    with pytest.raises(TrainingError, match=r"tokenizer.pad_token: is not set"):
        encode_texts(tokenizer, TEXTS, max_length=8)
