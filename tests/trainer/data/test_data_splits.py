"""Splits: sizes, disjointness, easy-to-hard ordering, determinism and size errors."""

from __future__ import annotations

import numpy as np
import pytest
from ensemw2s.trainer.data import (
    SPLIT_NAMES,
    DatasetError,
    Example,
    Splits,
    SplitSizes,
    easy_to_hard_split,
    random_split,
)


def _pool(n: int, seed: int = 0) -> tuple[list[Example], np.ndarray]:
    difficulty = np.random.default_rng(seed).random(n)
    return [Example(f"e{i}", f"text {i}", i % 2, float(difficulty[i])) for i in range(n)], difficulty


def _ids(split: list[Example]) -> set[str]:
    return {e.id for e in split}


def _assert_disjoint(splits: Splits) -> None:
    seen: set[str] = set()
    for name in splits.names():
        ids = _ids(splits.by_name(name))
        assert len(ids) == len(splits.by_name(name))
        assert seen.isdisjoint(ids), name
        seen |= ids


@pytest.mark.parametrize("split", ["e2h", "random"])
def test_sizes_are_exact_and_splits_disjoint(split):
    examples, difficulty = _pool(500)
    sizes = SplitSizes(easy=150, val=40, hard_train=180, hard_test=60)
    splits = (
        easy_to_hard_split(examples, difficulty, sizes, seed=0)
        if split == "e2h"
        else random_split(examples, sizes, seed=0)
    )
    assert splits.sizes() == sizes
    _assert_disjoint(splits)


def test_exact_split_puts_every_easy_example_below_every_hard_one():
    examples, difficulty = _pool(200)
    splits = easy_to_hard_split(examples, difficulty, SplitSizes(easy=80, val=20, hard_train=70, hard_test=30), seed=4)
    easy_side = [e.difficulty for e in splits.easy + splits.val]
    hard_side = [e.difficulty for e in splits.hard_train + splits.hard_test]
    assert max(easy_side) <= min(hard_side)
    assert max(e.difficulty for e in splits.easy) <= min(e.difficulty for e in splits.hard_train)


def test_easy_side_is_the_lower_half_even_with_a_larger_pool():
    examples, difficulty = _pool(1000)
    splits = easy_to_hard_split(
        examples, difficulty, SplitSizes(easy=100, val=50, hard_train=100, hard_test=50), seed=0
    )
    median = float(np.sort(difficulty)[499])
    assert all(e.difficulty <= median for e in splits.easy + splits.val)
    assert all(e.difficulty > median for e in splits.hard_train + splits.hard_test)


def test_ties_are_broken_by_the_seed_and_deterministic():
    examples = [Example(f"e{i}", "t", i % 2) for i in range(100)]
    flat = np.zeros(100)
    sizes = SplitSizes(easy=30, val=10, hard_train=30, hard_test=10)
    first = easy_to_hard_split(examples, flat, sizes, seed=1)
    assert first == easy_to_hard_split(examples, flat, sizes, seed=1)
    assert _ids(first.easy) != _ids(easy_to_hard_split(examples, flat, sizes, seed=2).easy)
    assert _ids(first.easy) != {f"e{i}" for i in range(30)}  # not input order


def test_random_split_is_deterministic_and_ignores_difficulty():
    examples, _ = _pool(300)
    sizes = SplitSizes(easy=100, val=20, hard_train=100, hard_test=20)
    first = random_split(examples, sizes, seed=9)
    assert first == random_split(examples, sizes, seed=9)
    assert first != random_split(examples, sizes, seed=10)
    assert min(e.difficulty for e in first.hard_train) < max(e.difficulty for e in first.easy)


def test_easy_side_too_small_message():
    examples, difficulty = _pool(2000)
    with pytest.raises(DatasetError) as caught:
        easy_to_hard_split(examples, difficulty, SplitSizes(easy=1100, val=100, hard_train=10, hard_test=10), seed=0)
    assert str(caught.value) == (
        "spec.dataset.sizes: easy + val = 1200 but the easy half holds 1000 of 2000 examples; "
        "lower spec.dataset.sizes.easy/val or raise spec.dataset.maxItems"
    )


def test_hard_side_too_small_message():
    examples, difficulty = _pool(21)
    with pytest.raises(DatasetError, match=r"hardTrain \+ hardTest = 12 but the hard half holds 11 of 21"):
        easy_to_hard_split(examples, difficulty, SplitSizes(easy=5, val=5, hard_train=6, hard_test=6), seed=0)


def test_random_split_too_small_message():
    examples, _ = _pool(10)
    with pytest.raises(DatasetError, match=r"= 12 but the pool holds 10 examples; lower spec.dataset.sizes"):
        random_split(examples, SplitSizes(easy=3, val=3, hard_train=3, hard_test=3), seed=0)


@pytest.mark.parametrize(
    ("difficulty", "message"),
    [
        (np.zeros(9), "got 9 difficulty values for 10 examples"),
        (np.array([np.nan] + [0.0] * 9), "'e0' has difficulty nan"),
    ],
)
def test_bad_difficulty_arrays_are_rejected(difficulty, message):
    examples, _ = _pool(10)
    with pytest.raises(DatasetError, match=message):
        easy_to_hard_split(examples, difficulty, SplitSizes(easy=1, val=1, hard_train=1, hard_test=1), seed=0)


def test_split_sizes_are_the_specs():
    """One definition: the splits take the spec's sizes, so its validation (integers >= 1) is the only one."""
    from ensemw2s.spec import SplitSizes as SpecSplitSizes

    assert SplitSizes is SpecSplitSizes


def test_by_name_and_names():
    examples, difficulty = _pool(40)
    splits = easy_to_hard_split(examples, difficulty, SplitSizes(easy=5, val=5, hard_train=5, hard_test=5), seed=0)
    assert splits.names() == SPLIT_NAMES == ("easy", "val", "hard_train", "hard_test")
    assert splits.by_name("hard_test") is splits.hard_test
    with pytest.raises(DatasetError, match=r"unknown split 'test' \(known: easy, val, hard_train, hard_test\)"):
        splits.by_name("test")
