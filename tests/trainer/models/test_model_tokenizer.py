from __future__ import annotations

import pytest
from ensemw2s.trainer.models import BoundaryToken, ModelError, build_word_tokenizer


def test_vocabulary_is_by_frequency_then_alphabetical() -> None:
    tokenizer = build_word_tokenizer(["b a c a", "B c d"], max_vocab=7)
    vocab = tokenizer.get_vocab()
    assert [vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[EOS]")] == [0, 1, 2, 3]
    # a: 2, b: 2, c: 2 (ties alphabetical), d: 1 cut by max_vocab
    assert {word: vocab[word] for word in ("a", "b", "c")} == {"a": 4, "b": 5, "c": 6}
    assert "d" not in vocab


def test_deterministic_across_builds(corpus: list[str]) -> None:
    first = build_word_tokenizer(corpus, 50).get_vocab()
    second = build_word_tokenizer(list(reversed(corpus)), 50).get_vocab()
    assert first == second


def test_lowercase_punctuation_unknown_and_eos(corpus: list[str]) -> None:
    tokenizer = build_word_tokenizer(corpus, 100)
    ids = tokenizer("MARS?! zebra")["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert tokens == ["mars", "?", "!", "[UNK]", "[EOS]"]
    assert tokenizer.pad_token_id == 0
    assert tokenizer.padding_side == "right"


def test_cls_first_boundary(corpus: list[str]) -> None:
    tokenizer = build_word_tokenizer(corpus, 100, boundary=BoundaryToken.CLS_FIRST)
    assert tokenizer.convert_ids_to_tokens(tokenizer("mars")["input_ids"]) == ["[CLS]", "mars"]


def test_truncation_keeps_the_boundary_token(corpus: list[str]) -> None:
    tokenizer = build_word_tokenizer(corpus, 100)
    ids = tokenizer("the plot was fine", truncation=True, max_length=3)["input_ids"]
    assert len(ids) == 3 and ids[-1] == tokenizer.eos_token_id


def test_round_trip_through_save_pretrained(corpus: list[str], tmp_path) -> None:
    from transformers import AutoTokenizer

    tokenizer = build_word_tokenizer(corpus, 100)
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded(corpus)["input_ids"] == tokenizer(corpus)["input_ids"]


@pytest.mark.parametrize(
    ("texts", "max_vocab", "message"),
    [
        (["a b"], 4, "max_vocab: must be > 4"),
        (["", "   "], 100, "corpus: has no words"),
    ],
)
def test_invalid_requests(texts: list[str], max_vocab: int, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        build_word_tokenizer(texts, max_vocab)
