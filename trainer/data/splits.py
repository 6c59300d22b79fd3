"""The four splits: easy (weak training), val (model selection), hard_train (weak labels), hard_test.

Easy-to-hard: the pool sorted by difficulty is cut in half; easy and val come from the lower half,
hard_train and hard_test from the upper half, so no hard gold label is used for model selection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ensemw2s.spec import SplitSizes, SplitStrategy
from ensemw2s.spec.pool import easy_half, split_shortfalls

from .errors import DatasetError
from .records import Example

SPLIT_NAMES: tuple[str, ...] = ("easy", "val", "hard_train", "hard_test")


@dataclass(frozen=True)
class Splits:
    easy: list[Example]
    val: list[Example]
    hard_train: list[Example]
    hard_test: list[Example]

    @staticmethod
    def names() -> tuple[str, ...]:
        return SPLIT_NAMES

    def by_name(self, name: str) -> list[Example]:
        if name not in SPLIT_NAMES:
            raise DatasetError(
                f"split name: unknown split {name!r} (known: {', '.join(SPLIT_NAMES)}); use one of these"
            )
        split: list[Example] = getattr(self, name)
        return split

    def sizes(self) -> SplitSizes:
        return SplitSizes(
            easy=len(self.easy), val=len(self.val), hard_train=len(self.hard_train), hard_test=len(self.hard_test)
        )


def easy_to_hard_order(difficulty: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Positions sorted by difficulty ascending, ties broken by a seeded permutation."""
    permutation = rng.permutation(difficulty.size)
    return permutation[np.argsort(difficulty[permutation], kind="stable")]


def easy_to_hard_positions(
    ids: Sequence[str], difficulty: np.ndarray, sizes: SplitSizes, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The positions of easy, val, hard_train and hard_test in a pool rated ``difficulty`` (one per id).

    Easy and val are drawn from the easier half of the pool, hard_train and hard_test from the harder;
    with an odd pool the extra item goes to the hard half. Deterministic given ``seed``. ``ids`` name
    the items in errors. Classification's examples and generation's questions split alike.
    """
    difficulty = np.asarray(difficulty, dtype=np.float64)
    if difficulty.shape != (len(ids),):
        raise DatasetError(
            f"spec.dataset.difficulty: got {difficulty.shape[0] if difficulty.ndim else 0} difficulty values "
            f"for {len(ids)} examples; rate every example exactly once"
        )
    if not np.all(np.isfinite(difficulty)):
        bad = int(np.flatnonzero(~np.isfinite(difficulty))[0])
        raise DatasetError(
            f"spec.dataset.difficulty: example '{ids[bad]}' has difficulty {difficulty[bad]}; "
            "every difficulty must be a finite number"
        )
    check_pool(sizes, SplitStrategy.EASY_TO_HARD, len(ids))
    rng = np.random.default_rng(seed)
    order = easy_to_hard_order(difficulty, rng)
    half = easy_half(len(ids))
    easy_side, hard_side = order[:half], order[half:]
    easy, val = _draw(easy_side, (sizes.easy, sizes.val), rng)
    hard_train, hard_test = _draw(hard_side, (sizes.hard_train, sizes.hard_test), rng)
    return easy, val, hard_train, hard_test


def random_positions(pool: int, sizes: SplitSizes, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The positions of the four splits drawn i.i.d. from a pool of ``pool`` items (difficulty ignored)."""
    check_pool(sizes, SplitStrategy.RANDOM, pool)
    rng = np.random.default_rng(seed)
    easy, val, hard_train, hard_test = _draw(
        np.arange(pool), (sizes.easy, sizes.val, sizes.hard_train, sizes.hard_test), rng
    )
    return easy, val, hard_train, hard_test


def easy_to_hard_split(examples: Sequence[Example], difficulty: np.ndarray, sizes: SplitSizes, seed: int) -> Splits:
    """Easy and val drawn from the easier half of the pool, hard_train and hard_test from the harder
    (:func:`easy_to_hard_positions`)."""
    return _splits(examples, *easy_to_hard_positions([e.id for e in examples], difficulty, sizes, seed))


def random_split(examples: Sequence[Example], sizes: SplitSizes, seed: int) -> Splits:
    """The control: the same sizes drawn i.i.d. from the whole pool (difficulty ignored)."""
    return _splits(examples, *random_positions(len(examples), sizes, seed))


def check_pool(sizes: SplitSizes, strategy: SplitStrategy, pool: int) -> None:
    """A DatasetError when a pool of ``pool`` examples cannot give the asked split sizes."""
    shortfalls = split_shortfalls(sizes, strategy, pool)
    if shortfalls:
        raise DatasetError("\n".join(str(p) for p in shortfalls))


def _draw(side: np.ndarray, counts: Sequence[int], rng: np.random.Generator) -> list[np.ndarray]:
    """Consecutive slices of a seeded shuffle of ``side``: disjoint draws without replacement."""
    shuffled = rng.permutation(side)
    bounds = np.cumsum([0, *counts])
    return [shuffled[bounds[i] : bounds[i + 1]] for i in range(len(counts))]


def _splits(examples: Sequence[Example], *parts: np.ndarray) -> Splits:
    easy, val, hard_train, hard_test = ([examples[int(i)] for i in part] for part in parts)
    return Splits(easy=easy, val=val, hard_train=hard_train, hard_test=hard_test)
