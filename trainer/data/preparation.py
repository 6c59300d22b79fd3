"""The prepare stage's data path as one verb: items -> examples and K -> rated, split pool.

The prepare stage and the preflight (``w2sctl validate``, the start of every run) both call these, so
what the preflight accepts is what prepare can split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ensemw2s.spec import Dataset, DifficultyMethod, SplitStrategy

from .classes import check_split_labels
from .difficulty import FitPredict, difficulty_from_column, difficulty_from_kfold, difficulty_from_proxy
from .errors import DatasetError
from .records import Example
from .splits import Splits, check_pool, easy_to_hard_split, random_split


def split_pool(
    dataset: Dataset, examples: Sequence[Example], num_classes: int, seed: int, fit_predict: FitPredict | None = None
) -> Splits:
    """``spec.dataset``'s split of ``examples``: random, or easy-to-hard by its difficulty method.

    The k-fold method trains models, so it needs ``fit_predict``. Each example keeps the difficulty the
    split used. Labels are checked on every split (:func:`check_split_labels`).
    """
    if dataset.split is SplitStrategy.RANDOM:
        splits = random_split(examples, dataset.sizes, seed)
    else:
        method = dataset.difficulty.method
        if method is DifficultyMethod.COLUMN:
            difficulty = difficulty_from_column(examples)
        elif method is DifficultyMethod.PROXY:
            difficulty = difficulty_from_proxy(examples, dataset.difficulty.proxy)
        elif fit_predict is None:
            raise DatasetError(
                "spec.dataset.difficulty.method: kfold needs a model to rate the examples (got none); pass fit_predict"
            )
        else:
            check_pool(dataset.sizes, SplitStrategy.EASY_TO_HARD, len(examples))  # before hours of cross-fitting
            difficulty = difficulty_from_kfold(examples, dataset.difficulty.folds, seed, fit_predict)
        rated = [replace(e, difficulty=float(d)) for e, d in zip(examples, difficulty, strict=True)]
        splits = easy_to_hard_split(rated, difficulty, dataset.sizes, seed)
    check_split_labels(splits, num_classes)
    return splits
