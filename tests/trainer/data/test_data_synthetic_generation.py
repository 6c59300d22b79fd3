"""synthetic-word-ops: deterministic, difficulty by construction, hard items compose what easy items teach."""

from __future__ import annotations

from collections import Counter
from itertools import product

import pytest
from ensemw2s.spec import SplitSizes
from ensemw2s.trainer.data import DatasetError
from ensemw2s.trainer.data.synthetic_generation import (
    ANTONYMS,
    DIFFICULTY_RANGES,
    SHAPES,
    WordOpsKind,
    capacity,
    generate_word_ops,
    word_ops_kind,
    word_ops_splits,
)

EASY_KINDS = {WordOpsKind.ONE_OP_SHORT, WordOpsKind.ONE_OP}
FLIP = {a: b for a, b in ANTONYMS} | {b: a for a, b in ANTONYMS}
REFERENCE = {  # an independent reading of the operations
    "reverse": lambda words: words[::-1],
    "rotate": lambda words: words[1:] + words[:1],
    "opposite": lambda words: [FLIP[w] for w in words],
}


def _parse(prompt: str) -> tuple[list[str], list[str]]:
    """``Q: <op> of <op> of: w1 w2\\nA:`` -> (operations, words)."""
    assert prompt.startswith("Q: ") and prompt.endswith("\nA:"), prompt
    chain, words = prompt[3:-3].split(" of: ")
    return chain.split(" of "), words.split()


def _reference_answer(prompt: str) -> str:
    operations, words = _parse(prompt)
    for operation in reversed(operations):
        words = REFERENCE[operation](words)
    return " " + " ".join(words)


@pytest.fixture(scope="module")
def items():
    return generate_word_ops(2000, seed=0)


def test_deterministic_given_seed(items):
    assert generate_word_ops(2000, seed=0) == items
    assert generate_word_ops(2000, seed=1) != items


def test_prompts_distinct_ids_unique(items):
    assert len({i.prompt for i in items}) == len({i.id for i in items}) == len(items) == 2000


def test_answers_follow_the_operations(items):
    for item in items:
        assert item.answer == _reference_answer(item.prompt), item.prompt
        assert item.target == item.answer + "\n" and not item.choices


def test_kinds_by_shares_and_difficulty_ranges(items):
    kinds = Counter(word_ops_kind(i.id) for i in items)
    assert kinds == {
        WordOpsKind.ONE_OP_SHORT: 300,
        WordOpsKind.ONE_OP: 700,
        WordOpsKind.TWO_OPS_SHORT: 300,
        WordOpsKind.TWO_OPS: 400,
        WordOpsKind.THREE_OPS: 300,
    }
    for item in items:
        kind = word_ops_kind(item.id)
        low, high = DIFFICULTY_RANGES[kind]
        assert item.difficulty is not None and low <= item.difficulty <= high
        operations, words = _parse(item.prompt)
        assert (len(operations), len(words)) == (SHAPES[kind].operations, SHAPES[kind].words)
    easy = [i.difficulty for i in items if word_ops_kind(i.id) in EASY_KINDS]
    hard = [i.difficulty for i in items if word_ops_kind(i.id) not in EASY_KINDS]
    assert max(easy) < min(hard), "sorted by difficulty, the easier half is exactly the easy kinds"


def test_hard_items_need_every_step(items):
    """Easy items apply one operation; no hard answer is what fewer operations would give."""
    for item in items:
        operations, words = _parse(item.prompt)
        if word_ops_kind(item.id) in EASY_KINDS:
            assert len(operations) == 1
            continue
        assert len(operations) in (2, 3) and not {FLIP[w] for w in words} & set(words)
        shorter = {" " + " ".join(words)} | {
            _reference_answer(f"Q: {' of '.join(chain)} of: {' '.join(words)}\nA:")
            for chain in _chains(len(operations) - 1)
        }
        assert item.answer not in shorter, item.prompt


def _chains(up_to: int) -> list[tuple[str, ...]]:
    """Every chain of 1..up_to operations."""
    return [chain for n in range(1, up_to + 1) for chain in product(REFERENCE, repeat=n)]


def test_vocabulary_is_small_and_answers_short(items):
    words = Counter(w for i in items for w in (i.prompt + i.answer).replace(":", " ").split())
    assert set(words) == {"Q", "A", "of", *REFERENCE, *FLIP}
    assert max(len(i.answer.split()) for i in items) == 3


def test_easy_items_teach_every_word_and_operation(items):
    """Hard items compose operations and words that easy items show, never something new."""
    easy_words: set[str] = set()
    for item in items:
        if word_ops_kind(item.id) in EASY_KINDS:
            operations, words = _parse(item.prompt)
            easy_words |= {*operations, *words, *item.answer.split()}
    assert easy_words == {*REFERENCE, *FLIP}


def test_splits_have_the_asked_sizes_and_separate_easy_from_hard():
    sizes = SplitSizes(easy=120, val=40, hard_train=90, hard_test=50)
    splits = word_ops_splits(sizes, seed=7)
    assert splits == word_ops_splits(sizes, seed=7) and splits != word_ops_splits(sizes, seed=8)
    parts = {"easy": splits.easy, "val": splits.val, "hard_train": splits.hard_train, "hard_test": splits.hard_test}
    assert {name: len(part) for name, part in parts.items()} == {
        "easy": 120,
        "val": 40,
        "hard_train": 90,
        "hard_test": 50,
    }
    every = [item for part in parts.values() for item in part]
    assert len({i.prompt for i in every}) == len({i.id for i in every}) == 300
    for name, part in parts.items():
        assert all((word_ops_kind(i.id) in EASY_KINDS) == (name in ("easy", "val")) for i in part), name
    assert {word_ops_kind(i.id) for i in splits.hard_test} == set(WordOpsKind) - EASY_KINDS


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 1, "seed": 0}, r"synthetic-word-ops: n must be >= 2 \(got 1\)"),
        ({"n": 10, "seed": 0, "hard_fraction": 1.5}, r"hard_fraction must be in \[0, 1\] \(got 1.5\)"),
        (
            {"n": 20000, "seed": 0},
            r"n = 20000 needs 3000 distinct 'one-op-short' items but only 2880 exist; lower spec.dataset.maxItems",
        ),
    ],
)
def test_invalid_requests_are_rejected(kwargs, message):
    with pytest.raises(DatasetError, match=message):
        generate_word_ops(**kwargs)


def test_capacity_counts_distinct_questions():
    assert capacity(WordOpsKind.ONE_OP_SHORT) == 3 * 32 * 30  # no word twice, no antonym pair
    assert capacity(WordOpsKind.TWO_OPS_SHORT) == 4 * 32 * 30  # on two words, reverse and rotate are one swap
    assert capacity(WordOpsKind.THREE_OPS) == 9 * 32 * 30 * 28


@pytest.mark.parametrize("bad_id", ["synthetic-topics/easy-plain/1", "synthetic-word-ops/odd/1", "synthetic-word-ops"])
def test_word_ops_kind_rejects_foreign_ids(bad_id):
    with pytest.raises(DatasetError, match="is not a synthetic-word-ops id"):
        word_ops_kind(bad_id)
