"""Preflight for ``spec.dataset``: everything about the data that can be checked before any training.

A local file is read, parsed and split for every seed exactly as the prepare stage will (same loader, same
formatting, same split), so a file that passes here does not fail in prepare: a bad line is named as
``file:line``, labels outside 0..K-1, a single class, too few rows for the sizes (after ``maxItems``) and
missing or non-finite difficulty values (``difficulty: column``) are all reported at once. The k-fold
method trains models to rate difficulty, so only its size arithmetic is checked. Remote sources (``s3://``)
are read by prepare itself, which raises the same errors; hub datasets only know their size there.
"""

from __future__ import annotations

from collections.abc import Sequence

from ensemw2s.spec import DifficultyMethod, ExperimentSpec, Problem, SplitStrategy, Task, problem
from ensemw2s.spec.pool import split_shortfalls

from .errors import DatasetError
from .formatting import format_examples
from .loading import shuffled_prefix
from .local import is_local_source, load_local_rows
from .preparation import split_pool
from .qa_preflight import question_problems
from .records import Item, LabelledItem
from .registry import SYNTHETIC_SENTIMENT, SYNTHETIC_TOPICS
from .row_problems import difficulty_problems, first_rows, problems_from_error
from .splits import check_pool
from .synthetic import DEFAULT_SIZE as SENTIMENT_DEFAULT_SIZE
from .synthetic_topics import DEFAULT_SIZE as TOPICS_DEFAULT_SIZE

__all__ = ["dataset_problems", "problems_from_error"]

GENERATED_DEFAULT_SIZES = {SYNTHETIC_SENTIMENT: SENTIMENT_DEFAULT_SIZE, SYNTHETIC_TOPICS: TOPICS_DEFAULT_SIZE}


def dataset_problems(spec: ExperimentSpec) -> list[Problem]:
    """Every problem with ``spec.dataset`` that shows before training (empty: prepare will split it)."""
    if spec.task is Task.GENERATION:
        return question_problems(spec)
    dataset = spec.dataset
    if dataset.source is None:
        return _generated_problems(spec)
    if not is_local_source(dataset.source):
        return []
    try:
        rows = load_local_rows(dataset.source)
    except DatasetError as error:
        return problems_from_error(error)
    found = _row_problems(spec, rows)
    items = [item for _, item in rows]
    for seed in spec.seeds:
        for seed_problem in _seed_problems(spec, items, seed, split=not found):
            if seed_problem not in found:  # most problems are the same for every seed
                found.append(seed_problem)
    return found


def _generated_problems(spec: ExperimentSpec) -> list[Problem]:
    """Generated datasets are always well formed; only their default size can be too small."""
    dataset = spec.dataset
    default = GENERATED_DEFAULT_SIZES.get(dataset.name)
    if default is None or dataset.max_items is not None:  # hub datasets: sized at run time; maxItems: the spec
        return []
    return split_shortfalls(dataset.sizes, dataset.split, default, f"generated examples (default size {default})")


def _row_problems(spec: ExperimentSpec, rows: Sequence[tuple[str, Item]]) -> list[Problem]:
    """Per-row rules a message can point at with file:line: labels below numClasses, difficulty values."""
    dataset = spec.dataset
    found: list[Problem] = []
    declared = dataset.num_classes
    if declared is not None:
        found += first_rows(
            [
                problem(
                    where,
                    f"field 'label' must be below spec.dataset.numClasses = {declared}",
                    item.label,
                    "fix the label or raise spec.dataset.numClasses",
                )
                for where, item in rows
                if isinstance(item, LabelledItem) and item.label >= declared
            ]
        )
    if dataset.split is SplitStrategy.EASY_TO_HARD and dataset.difficulty.method is DifficultyMethod.COLUMN:
        found += difficulty_problems([where for where, item in rows if item.difficulty is None], len(rows))
    return found


def _seed_problems(spec: ExperimentSpec, items: list[Item], seed: int, *, split: bool) -> list[Problem]:
    """Format and split the pool of one seed as prepare will (``split`` False: classes and sizes only)."""
    dataset = spec.dataset
    pool = shuffled_prefix(items, dataset.max_items, seed)
    try:
        declared = dataset.num_classes if split else None  # labels above it are already named by file:line
        examples, num_classes = format_examples(pool, dataset.format, declared, seed)
        kfold = dataset.split is SplitStrategy.EASY_TO_HARD and dataset.difficulty.method is DifficultyMethod.KFOLD
        if kfold or not split:  # k-fold rates difficulty by training; bad rows: their problems say enough
            check_pool(dataset.sizes, dataset.split, len(examples))
        else:
            split_pool(dataset, examples, num_classes, seed)
    except DatasetError as error:
        return problems_from_error(error)
    return []
