"""A generation experiment's prepare step as one verb: ``spec.dataset`` -> the four splits of questions.

Two paths, one result type (:class:`QASplits`):

- ``synthetic-word-ops`` without a source, split easy-to-hard: generated to size
  (:func:`.synthetic_generation.word_ops_splits`), easy kinds on the easy side and composed
  operations on the hard side by construction, so the difficulty method is not needed.
- anything else: the pool :func:`.qa_loading.load_qa_items` loads (shuffled with ``seed``, at most
  ``maxItems``), split as classification splits its examples (:mod:`.splits`): random, or
  easy-to-hard by the difficulty column or a proxy of the prompt's text. The k-fold method trains
  classifiers to rate items and has no generation counterpart (the spec refuses it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from ensemw2s.spec import ChoiceAnswer, Dataset, DifficultyMethod, SplitStrategy
from ensemw2s.spec.catalog import SYNTHETIC_WORD_OPS

from .difficulty import difficulty_from_column, difficulty_from_texts
from .errors import DatasetError
from .qa import QAItem, QASplits
from .qa_loading import load_qa_items
from .splits import easy_to_hard_positions, random_positions
from .synthetic_generation import word_ops_splits

__all__ = ["QASplits", "load_question_splits", "split_questions"]


def load_question_splits(dataset: Dataset, seed: int, style: ChoiceAnswer) -> QASplits:
    """The four splits of ``spec.dataset`` for one seed; multiple-choice answers in ``style``."""
    if dataset.source is None and dataset.name == SYNTHETIC_WORD_OPS and dataset.split is SplitStrategy.EASY_TO_HARD:
        return word_ops_splits(dataset.sizes, seed)
    items = load_qa_items(dataset.name, dataset.source, dataset.max_items, seed, style)
    return split_questions(dataset, items, seed)


def split_questions(dataset: Dataset, items: Sequence[QAItem], seed: int) -> QASplits:
    """``items`` split by ``spec.dataset``: random, or easy-to-hard by its difficulty column or proxy.

    Each question keeps the difficulty the easy-to-hard split used (a proxy's rank in [0, 1]).
    """
    if dataset.split is SplitStrategy.RANDOM:
        return _splits(items, random_positions(len(items), dataset.sizes, seed))
    method = dataset.difficulty.method
    if method is DifficultyMethod.COLUMN:
        difficulty = difficulty_from_column(items)
    elif method is DifficultyMethod.PROXY:
        difficulty = difficulty_from_texts([item.prompt for item in items], dataset.difficulty.proxy)
    else:
        raise DatasetError(
            f"spec.dataset.difficulty.method: task generation cannot rate questions by k-fold training "
            f"(got {method.value!r}); use column or proxy"
        )
    rated = [replace(item, difficulty=float(d)) for item, d in zip(items, difficulty, strict=True)]
    return _splits(rated, easy_to_hard_positions([item.id for item in rated], difficulty, dataset.sizes, seed))


def _splits(items: Sequence[QAItem], positions: Sequence[np.ndarray]) -> QASplits:
    easy, val, hard_train, hard_test = (tuple(items[int(i)] for i in part) for part in positions)
    return QASplits(easy=easy, val=val, hard_train=hard_train, hard_test=hard_test)
