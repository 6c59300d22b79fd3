"""K, the number of classes: declared (``spec.dataset.numClasses``) or inferred from the labels.

Every label must lie in 0..K-1 and a dataset needs at least two classes; both are checked before
anything trains, on the whole pool and again on every split. The splits a model trains or is measured
on (easy, hard_train, hard_test) need two classes each: a one-class test split scores every model 1.000.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import DatasetError
from .records import Example
from .splits import SPLIT_NAMES, Splits


def count_classes(examples: Sequence[Example], declared: int | None, at_least: int = 0) -> int:
    """K: ``declared`` when set, else max(largest label + 1, ``at_least``); checked against the labels."""
    if declared is not None:
        _check_range(examples, declared, "spec.dataset.numClasses", "fix the item's label or raise numClasses")
        num_classes = declared
    else:
        num_classes = max(max((e.label for e in examples), default=-1) + 1, at_least)
    present = sorted({e.label for e in examples})
    if len(present) < 2:
        got = f"only label {present[0]}" if present else "no examples"
        raise DatasetError(
            f"spec.dataset: a classifier needs examples of at least 2 classes (got {got}); "
            "check the label column or add items of the other classes"
        )
    return num_classes


MIXED_SPLITS: tuple[str, ...] = ("easy", "hard_train", "hard_test")
"""Splits that need examples of two classes or more (val, for model selection only, may have one)."""


def check_split_labels(splits: Splits, num_classes: int) -> None:
    """Every split's labels lie in 0..K-1 (the heads have K outputs); easy and hard splits hold 2+ classes."""
    for name in SPLIT_NAMES:
        _check_range(splits.by_name(name), num_classes, f"split {name}", "check how the split was built")
    for name in MIXED_SPLITS:
        present = sorted({e.label for e in splits.by_name(name)})
        if len(present) < 2:
            raise DatasetError(
                f"spec.dataset.split: split {name} holds only label {present[0] if present else 'none'} "
                f"({len(splits.by_name(name))} examples; it needs at least 2 classes); the labels follow the "
                "difficulty or one class is rare: use split: random, another difficulty method, or more items"
            )


def _check_range(examples: Sequence[Example], num_classes: int, where: str, fix: str) -> None:
    for example in examples:
        if not 0 <= example.label < num_classes:
            raise DatasetError(
                f"{where}: item '{example.id}' needs a label in 0..{num_classes - 1} (got {example.label}); {fix}"
            )
