"""Word-level tokenizers built offline from a corpus, for the tiny presets.

Deterministic: the vocabulary is the ``max_vocab`` most frequent words, ties broken alphabetically,
after the tokenizer's own normalisation (lowercase) and pre-tokenisation (whitespace, then every
punctuation character on its own).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from enum import StrEnum

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from .errors import ModelError

PAD, UNK, CLS, EOS = "[PAD]", "[UNK]", "[CLS]", "[EOS]"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, UNK, CLS, EOS)  # ids 0, 1, 2, 3
DEFAULT_MODEL_MAX_LENGTH = 512


class BoundaryToken(StrEnum):
    """Where the tokenizer adds its special token: an encoder reads [CLS] first, a causal LM [EOS] last."""

    CLS_FIRST = "cls_first"
    EOS_LAST = "eos_last"


def _normalizer() -> normalizers.Normalizer:
    return normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(behavior="isolated")])


def count_words(corpus: Iterable[str]) -> Counter[str]:
    """Word counts exactly as the tokenizer will split the texts."""
    normalizer, pre_tokenizer = _normalizer(), _pre_tokenizer()
    counts: Counter[str] = Counter()
    for text in corpus:
        pieces = pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))
        counts.update(piece for piece, _ in pieces)
    return counts


def build_word_tokenizer(
    corpus: Iterable[str],
    max_vocab: int,
    *,
    boundary: BoundaryToken = BoundaryToken.EOS_LAST,
    model_max_length: int = DEFAULT_MODEL_MAX_LENGTH,
) -> PreTrainedTokenizerFast:
    """A WordLevel tokenizer over the corpus's most frequent words, with [PAD] [UNK] [CLS] [EOS].

    ``max_vocab`` counts the four special tokens. Unknown words map to [UNK]; padding is on the right.
    """
    if max_vocab <= len(SPECIAL_TOKENS):
        raise ModelError(
            "max_vocab",
            f"must be > {len(SPECIAL_TOKENS)} (the special tokens)",
            max_vocab,
            "use a vocabulary of a few thousand words",
        )
    counts = count_words(corpus)
    if not counts:
        raise ModelError("corpus", "has no words to build a vocabulary from", None, "pass the training texts")
    words = sorted(counts, key=lambda word: (-counts[word], word))
    words = [word for word in words if word not in SPECIAL_TOKENS][: max_vocab - len(SPECIAL_TOKENS)]
    vocab = {token: index for index, token in enumerate([*SPECIAL_TOKENS, *words])}

    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    backend.normalizer = _normalizer()
    backend.pre_tokenizer = _pre_tokenizer()
    if boundary is BoundaryToken.CLS_FIRST:
        template = processors.TemplateProcessing(single=f"{CLS} $A", special_tokens=[(CLS, vocab[CLS])])
    else:
        template = processors.TemplateProcessing(single=f"$A {EOS}", special_tokens=[(EOS, vocab[EOS])])
    backend.post_processor = template
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=backend,
        pad_token=PAD,
        unk_token=UNK,
        cls_token=CLS,
        eos_token=EOS,
        model_max_length=model_max_length,
        padding_side="right",
    )
