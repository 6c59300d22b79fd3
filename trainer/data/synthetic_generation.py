"""synthetic-word-ops: the project's seeded easy-to-hard generation task (``task: generation``).

A question applies operations to a short list of words; the answer is the resulting list::

    Q: opposite of: hot big up\\nA:                      ->  " cold small down"
    Q: reverse of opposite of: dry dark cold\\nA:         ->  " hot light wet"

The operations (``reverse``; ``rotate``, the first word moved to the end; ``opposite``, each word
replaced by its antonym) read right to left like function application. The vocabulary is 32
common adjectives and nouns in antonym pairs, plus the three operation names: every word is one
token of a word-level tokenizer and of SmolLM2's BPE, where an answer and its newline take at
most 4 tokens (an answer is 2 or 3 words).

Easy items apply one operation; hard items compose two or three, and no shorter chain gives the
same answer (``reverse of reverse of`` is not a chain of two: :func:`operation_chains`), so an
item's number of operations is the number of steps it needs. Difficulty is known by construction,
one range per kind:

    one-op-short 0.00-0.20 (2 words) < one-op 0.20-0.45 (3 words)
    < two-ops-short 0.55-0.70 (2 words) < two-ops 0.70-0.85 < three-ops 0.85-1.00 (3 words)

A small model trained from scratch on easy items learns each operation on its own, but the
composed questions are a form it never saw: it answers them with one operation or noise, right
on some answer tokens and almost never on the whole answer. A pretrained student knows what
"opposite" and "reverse" mean and how instructions compose, so it learns the operations from few
examples and the hard questions from hard examples. Measured once on a draft of this generator
(2 CPU cores; not a test): a 2-layer GPT-2 (d = 64, word-level tokenizer) trained from scratch on
1500 easy items answers 62% of unseen easy items and 0% of two- or three-operation ones;
SmolLM2-135M fine-tuned on 300 easy items answers 96% of easy items (0% of hard ones), and
fine-tuned on 300 hard items with gold answers, 39% of two-operation and 18% of three-operation items.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from itertools import product

import numpy as np
from ensemw2s.spec import SplitSizes
from ensemw2s.spec.catalog import SYNTHETIC_WORD_OPS

from .errors import DatasetError
from .qa import QAItem, QASplits, answer_text, open_prompt
from .synthetic import allocate, kind_from_id

NAME = SYNTHETIC_WORD_OPS
DEFAULT_SIZE = 4000
GENERATOR_VERSION = 1
"""Bumped whenever the same (n, seed) would generate different items; part of the prepare stage's key."""

ANTONYMS: tuple[tuple[str, str], ...] = (
    ("hot", "cold"), ("big", "small"), ("up", "down"), ("fast", "slow"), ("good", "bad"), ("happy", "sad"),
    ("day", "night"), ("light", "dark"), ("long", "short"), ("high", "low"), ("early", "late"), ("rich", "poor"),
    ("wet", "dry"), ("full", "empty"), ("hard", "soft"), ("old", "new"),
)  # fmt: skip
OPPOSITE: dict[str, str] = {a: b for a, b in ANTONYMS} | {b: a for a, b in ANTONYMS}
WORDS: tuple[str, ...] = tuple(sorted(OPPOSITE))


class Operation(StrEnum):
    REVERSE = "reverse"
    ROTATE = "rotate"
    OPPOSITE = "opposite"


def apply(operation: Operation, words: Sequence[str]) -> tuple[str, ...]:
    """One operation on a word list."""
    if operation is Operation.REVERSE:
        return tuple(reversed(words))
    if operation is Operation.ROTATE:
        return (*words[1:], *words[:1])
    return tuple(OPPOSITE[word] for word in words)


def compose(operations: Sequence[Operation], words: Sequence[str]) -> tuple[str, ...]:
    """``operations`` applied right to left, as ``opposite of reverse of: ...`` reads."""
    result = tuple(words)
    for operation in reversed(operations):
        result = apply(operation, result)
    return result


def question(operations: Sequence[Operation], words: Sequence[str]) -> str:
    return f"{' of '.join(operations)} of: {' '.join(words)}"


class WordOpsKind(StrEnum):
    ONE_OP_SHORT = "one-op-short"
    ONE_OP = "one-op"
    TWO_OPS_SHORT = "two-ops-short"
    TWO_OPS = "two-ops"
    THREE_OPS = "three-ops"


@dataclass(frozen=True)
class KindShape:
    """How many operations a kind composes and how many words its lists hold."""

    operations: int
    words: int


SHAPES: dict[WordOpsKind, KindShape] = {
    WordOpsKind.ONE_OP_SHORT: KindShape(1, 2),
    WordOpsKind.ONE_OP: KindShape(1, 3),
    WordOpsKind.TWO_OPS_SHORT: KindShape(2, 2),
    WordOpsKind.TWO_OPS: KindShape(2, 3),
    WordOpsKind.THREE_OPS: KindShape(3, 3),
}
DIFFICULTY_RANGES: dict[WordOpsKind, tuple[float, float]] = {
    WordOpsKind.ONE_OP_SHORT: (0.0, 0.2),
    WordOpsKind.ONE_OP: (0.2, 0.45),
    WordOpsKind.TWO_OPS_SHORT: (0.55, 0.7),
    WordOpsKind.TWO_OPS: (0.7, 0.85),
    WordOpsKind.THREE_OPS: (0.85, 1.0),
}
EASY_SHARES: dict[WordOpsKind, float] = {WordOpsKind.ONE_OP_SHORT: 0.3, WordOpsKind.ONE_OP: 0.7}
HARD_SHARES: dict[WordOpsKind, float] = {
    WordOpsKind.TWO_OPS_SHORT: 0.3,
    WordOpsKind.TWO_OPS: 0.4,
    WordOpsKind.THREE_OPS: 0.3,
}


@cache
def operation_chains(length: int, words: int) -> tuple[tuple[Operation, ...], ...]:
    """Every chain of ``length`` operations that no shorter chain can replace, on lists of ``words`` words.

    A chain is kept when its result differs from the result of every shorter chain (the empty one
    included): ``reverse of reverse of`` is no chain of two, nor is ``opposite of reverse of
    opposite of`` one of three. Operations only move words and flip them all, and a list holds no
    word twice and no antonym pair (``bad good`` reversed would be ``bad good`` flipped), so the
    result on one list tells the chain's result on every list: an item's number of operations is
    the fewest its answer needs. In a fixed order.
    """
    canonical = tuple(pair[0] for pair in ANTONYMS[:words])  # distinct, and distinct from their opposites
    shorter = {compose(chain, canonical) for n in range(length) for chain in product(Operation, repeat=n)}
    return tuple(c for c in product(Operation, repeat=length) if compose(c, canonical) not in shorter)


def list_count(words: int) -> int:
    """How many ordered lists of ``words`` words hold no word twice and no antonym pair (32 * 30 * ...)."""
    return math.prod(len(WORDS) - 2 * i for i in range(words))


def capacity(kind: WordOpsKind) -> int:
    """How many distinct questions a kind has: its operation chains times its word lists."""
    shape = SHAPES[kind]
    return len(operation_chains(shape.operations, shape.words)) * list_count(shape.words)


def render(kind: WordOpsKind, index: int) -> tuple[tuple[Operation, ...], tuple[str, ...]]:
    """The kind's ``index``-th question (0 <= index < capacity): its operation chain and its word list."""
    shape = SHAPES[kind]
    chains = operation_chains(shape.operations, shape.words)
    index, chain = divmod(index, len(chains))
    remaining = list(WORDS)
    words: list[str] = []
    for _ in range(shape.words):
        index, pick = divmod(index, len(remaining))
        words.append(remaining.pop(pick))
        remaining.remove(OPPOSITE[words[-1]])  # no antonym pair in a list: see operation_chains
    return chains[chain], tuple(words)


_Draft = tuple[WordOpsKind, str, str, float]  # kind, question, answer, difficulty


def _side_counts(total: int, shares: dict[WordOpsKind, float], n: int) -> dict[WordOpsKind, int]:
    """How many questions of each kind a side of ``total`` holds; a DatasetError when a kind has too few."""
    counts = allocate(total, shares)
    for kind, count in counts.items():
        if count > capacity(kind):
            raise DatasetError(
                f"{NAME}: n = {n} needs {count} distinct '{kind.value}' items but only {capacity(kind)} exist; "
                "lower spec.dataset.maxItems or the split sizes"
            )
    return counts


def check_word_ops_sizes(sizes: SplitSizes) -> None:
    """A DatasetError unless :func:`word_ops_splits` can generate ``sizes`` (each kind has enough questions)."""
    n_easy, n_hard = sizes.easy + sizes.val, sizes.hard_train + sizes.hard_test
    _side_counts(n_easy, EASY_SHARES, n_easy + n_hard)
    _side_counts(n_hard, HARD_SHARES, n_easy + n_hard)


def check_word_ops_pool(n: int, hard_fraction: float = 0.5) -> None:
    """A DatasetError unless :func:`generate_word_ops` can generate ``n`` questions."""
    if n < 2:
        raise DatasetError(f"{NAME}: n must be >= 2 (got {n}); raise spec.dataset.maxItems")
    n_hard = round(n * hard_fraction)
    _side_counts(n - n_hard, EASY_SHARES, n)
    _side_counts(n_hard, HARD_SHARES, n)


def _side_drafts(total: int, shares: dict[WordOpsKind, float], rng: np.random.Generator, n: int) -> list[_Draft]:
    """``total`` distinct questions of one side (easy or hard), its kinds by ``shares``, in kind order."""
    drafts: list[_Draft] = []
    for kind, count in _side_counts(total, shares, n).items():
        low, high = DIFFICULTY_RANGES[kind]
        for index in rng.choice(capacity(kind), size=count, replace=False):
            operations, words = render(kind, int(index))
            answer = " ".join(compose(operations, words))
            drafts.append((kind, question(operations, words), answer, float(rng.uniform(low, high))))
    return drafts


def _items(drafts: list[_Draft], rng: np.random.Generator, start: int = 0) -> list[QAItem]:
    """The drafts in a seeded order as QA items with ids ``<name>/<kind>/<start + position>``."""
    items: list[QAItem] = []
    for position, draft_index in enumerate(rng.permutation(len(drafts)), start=start):
        kind, text, answer, difficulty = drafts[int(draft_index)]
        items.append(
            QAItem(f"{NAME}/{kind.value}/{position:05d}", open_prompt(text), answer_text(answer), difficulty=difficulty)
        )
    return items


def generate_word_ops(n: int, seed: int, hard_fraction: float = 0.5) -> list[QAItem]:
    """``n`` distinct items, shuffled, ``hard_fraction`` of them hard; ids ``synthetic-word-ops/<kind>/<index>``.

    Deterministic given ``(n, seed, hard_fraction)``. The easy and hard difficulty ranges do not
    overlap, so an easy-to-hard split of the items by difficulty puts every easy kind in the easy half.
    """
    if not 0.0 <= hard_fraction <= 1.0:
        raise DatasetError(f"{NAME}: hard_fraction must be in [0, 1] (got {hard_fraction}); pick e.g. 0.5")
    check_word_ops_pool(n, hard_fraction)
    rng = np.random.default_rng(seed)
    n_hard = round(n * hard_fraction)
    return _items(_side_drafts(n - n_hard, EASY_SHARES, rng, n) + _side_drafts(n_hard, HARD_SHARES, rng, n), rng)


def word_ops_splits(sizes: SplitSizes, seed: int) -> QASplits:
    """Exactly ``sizes`` items per split, all distinct, deterministic given ``seed``.

    Easy and val are drawn together from the easy kinds and cut apart, hard_train and hard_test
    from the hard kinds, so each pair shares one distribution.
    """
    n_easy, n_hard = sizes.easy + sizes.val, sizes.hard_train + sizes.hard_test
    rng = np.random.default_rng(seed)
    easy_side = _items(_side_drafts(n_easy, EASY_SHARES, rng, n_easy + n_hard), rng)
    hard_side = _items(_side_drafts(n_hard, HARD_SHARES, rng, n_easy + n_hard), rng, start=n_easy)
    return QASplits(
        easy=tuple(easy_side[: sizes.easy]),
        val=tuple(easy_side[sizes.easy :]),
        hard_train=tuple(hard_side[: sizes.hard_train]),
        hard_test=tuple(hard_side[sizes.hard_train :]),
    )


def word_ops_kind(item_id: str) -> WordOpsKind:
    """The kind encoded in a synthetic-word-ops item id."""
    return kind_from_id(NAME, item_id, WordOpsKind)
