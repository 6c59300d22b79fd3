"""The four splits: easy (weak training), val (model selection), hard_train (weak labels), hard_test.

Easy-to-hard: the pool sorted by difficulty is cut in half; easy and val come from the lower half,
hard_train and hard_test from the upper half, so no hard gold label is used for model selection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from .errors import DatasetError
from .records import Example

SPLIT_NAMES: tuple[str, ...] = ("easy", "val", "hard_train", "hard_test")
_FIX = "lower spec.dataset.sizes.{which} or raise spec.dataset.maxItems"


@dataclass(frozen=True)
class SplitSizes:
    easy: int
    val: int
    hard_train: int
    hard_test: int

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DatasetError(
                    f"spec.dataset.sizes.{field.name}: must be an integer >= 1 (got {value!r}); set a positive size"
                )

    @property
    def total(self) -> int:
        return self.easy + self.val + self.hard_train + self.hard_test


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
        return SplitSizes(len(self.easy), len(self.val), len(self.hard_train), len(self.hard_test))


def easy_to_hard_order(difficulty: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Positions sorted by difficulty ascending, ties broken by a seeded permutation."""
    permutation = rng.permutation(difficulty.size)
    return permutation[np.argsort(difficulty[permutation], kind="stable")]


def easy_to_hard_split(examples: Sequence[Example], difficulty: np.ndarray, sizes: SplitSizes, seed: int) -> Splits:
    """Easy and val drawn from the easier half of the pool, hard_train and hard_test from the harder.

    With an odd pool the extra example goes to the hard half. Deterministic given ``seed``.
    """
    difficulty = np.asarray(difficulty, dtype=np.float64)
    if difficulty.shape != (len(examples),):
        raise DatasetError(
            f"spec.dataset.difficulty: got {difficulty.shape[0] if difficulty.ndim else 0} difficulty values "
            f"for {len(examples)} examples; rate every example exactly once"
        )
    if not np.all(np.isfinite(difficulty)):
        bad = int(np.flatnonzero(~np.isfinite(difficulty))[0])
        raise DatasetError(
            f"spec.dataset.difficulty: example '{examples[bad].id}' has difficulty {difficulty[bad]}; "
            "every difficulty must be a finite number"
        )
    rng = np.random.default_rng(seed)
    order = easy_to_hard_order(difficulty, rng)
    half = len(examples) // 2
    easy_side, hard_side = order[:half], order[half:]
    _check_side("easy + val", sizes.easy + sizes.val, "easy half", easy_side.size, len(examples), "easy/val")
    _check_side(
        "hard_train + hard_test",
        sizes.hard_train + sizes.hard_test,
        "hard half",
        hard_side.size,
        len(examples),
        "hard_train/hard_test",
    )
    easy, val = _draw(easy_side, (sizes.easy, sizes.val), rng)
    hard_train, hard_test = _draw(hard_side, (sizes.hard_train, sizes.hard_test), rng)
    return _splits(examples, easy, val, hard_train, hard_test)


def random_split(examples: Sequence[Example], sizes: SplitSizes, seed: int) -> Splits:
    """The control: the same sizes drawn i.i.d. from the whole pool (difficulty ignored)."""
    if sizes.total > len(examples):
        raise DatasetError(
            f"spec.dataset.sizes: easy + val + hard_train + hard_test = {sizes.total} but the pool holds "
            f"{len(examples)} examples; lower spec.dataset.sizes or raise spec.dataset.maxItems"
        )
    rng = np.random.default_rng(seed)
    pool = np.arange(len(examples))
    easy, val, hard_train, hard_test = _draw(pool, (sizes.easy, sizes.val, sizes.hard_train, sizes.hard_test), rng)
    return _splits(examples, easy, val, hard_train, hard_test)


def _check_side(asked_name: str, asked: int, side_name: str, available: int, pool: int, which: str) -> None:
    if asked > available:
        raise DatasetError(
            f"spec.dataset.sizes: {asked_name} = {asked} but the {side_name} holds {available} of {pool} "
            f"examples; {_FIX.format(which=which)}"
        )


def _draw(side: np.ndarray, counts: Sequence[int], rng: np.random.Generator) -> list[np.ndarray]:
    """Consecutive slices of a seeded shuffle of ``side``: disjoint draws without replacement."""
    shuffled = rng.permutation(side)
    bounds = np.cumsum([0, *counts])
    return [shuffled[bounds[i] : bounds[i + 1]] for i in range(len(counts))]


def _splits(examples: Sequence[Example], *parts: np.ndarray) -> Splits:
    easy, val, hard_train, hard_test = ([examples[int(i)] for i in part] for part in parts)
    return Splits(easy=easy, val=val, hard_train=hard_train, hard_test=hard_test)
