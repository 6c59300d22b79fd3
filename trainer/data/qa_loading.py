"""One verb for a generation experiment's prepare stage: ``spec.dataset`` -> QA items.

The same sources as classification, read by the same loaders: a local file (``source``), the
built-in synthetic task, or a registry dataset with questions and answers from the Hugging Face
Hub. Every path shuffles with ``seed`` and keeps at most ``max_items``, so classification and
generation select the same rows of the same file or hub dataset for the same seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from .errors import DatasetError
from .loading import load_dataset_items
from .qa import ChoiceAnswer, QAItem, check_qa_dataset, to_qa_items
from .qa_local import load_local_questions
from .registry import LOCAL
from .synthetic_generation import DEFAULT_SIZE, generate_word_ops
from .synthetic_generation import NAME as SYNTHETIC_WORD_OPS

T = TypeVar("T")


def load_qa_items(
    name: str, source: str | None, max_items: int | None, seed: int, style: ChoiceAnswer = ChoiceAnswer.TEXT
) -> list[QAItem]:
    """QA items from a local question file, the synthetic task (exactly ``max_items``, default
    4000) or a question-answering hub dataset; multiple-choice answers in ``style``."""
    if source is not None:
        if max_items is not None and max_items < 1:
            raise DatasetError(f"spec.dataset.maxItems: must be >= 1 (got {max_items}); raise it or leave it unset")
        return to_qa_items(shuffled_questions(load_local_questions(source), max_items, seed), seed, style)
    if name == SYNTHETIC_WORD_OPS:
        return generate_word_ops(max_items or DEFAULT_SIZE, seed)
    if name != LOCAL:  # 'local' without a source: load_dataset_items says what to set
        check_qa_dataset(name)
    return to_qa_items(load_dataset_items(name, source, max_items, seed), seed, style)


def shuffled_questions(items: Sequence[T], max_items: int | None, seed: int) -> list[T]:
    """The questions prepare keeps for ``seed``: the permutation :func:`.loading.shuffled_prefix` draws,
    so classification and generation select the same rows of a file."""
    order = np.random.default_rng(seed).permutation(len(items))
    if max_items is not None:
        order = order[:max_items]
    return [items[int(i)] for i in order]
