"""Preflight for ``task: generation``'s ``spec.dataset``: what can fail in prepare, found before any training.

- a local question file is read, parsed and split for every seed as the prepare stage will
  (:func:`.qa_splits.split_questions` on the pool :func:`.qa_loading.load_qa_items` keeps): a bad
  row is named ``file:line``; too few rows for the sizes after ``maxItems``, and rows without a
  difficulty value (``difficulty: column``, the default, on an easy-to-hard split) are reported at once;
- ``synthetic-word-ops``: the sizes against the number of distinct questions each kind has;
- hub datasets know their size only when prepare loads them (the spec checks ``maxItems``).
"""

from __future__ import annotations

from collections.abc import Sequence

from ensemw2s.spec import DifficultyMethod, ExperimentSpec, Problem, SplitStrategy
from ensemw2s.spec.catalog import SYNTHETIC_WORD_OPS
from ensemw2s.spec.pool import split_shortfalls

from .errors import DatasetError
from .local import is_local_source
from .qa import to_qa_items
from .qa_loading import shuffled_questions
from .qa_local import QuestionRow, load_local_question_rows
from .qa_splits import split_questions
from .row_problems import difficulty_problems, problems_from_error
from .splits import check_pool
from .synthetic_generation import DEFAULT_SIZE, check_word_ops_pool, check_word_ops_sizes

__all__ = ["question_problems"]


def question_problems(spec: ExperimentSpec) -> list[Problem]:
    """Every problem with a generation experiment's ``spec.dataset`` that shows before training."""
    dataset = spec.dataset
    if dataset.source is None:
        return _word_ops_problems(spec) if dataset.name == SYNTHETIC_WORD_OPS else []
    if not is_local_source(dataset.source):
        return []  # s3:// and the like: prepare reads them and raises the same errors
    try:
        rows = load_local_question_rows(dataset.source)
    except DatasetError as error:
        return problems_from_error(error)
    found: list[Problem] = []
    if _column_rated(spec):
        found += difficulty_problems(
            [where for where, question in rows if question.difficulty is None], len(rows), "proxy"
        )
    questions = [question for _, question in rows]
    for seed in spec.seeds:
        for seed_problem in _seed_problems(spec, questions, seed, split=not found):
            if seed_problem not in found:  # most problems are the same for every seed
                found.append(seed_problem)
    return found


def _column_rated(spec: ExperimentSpec) -> bool:
    dataset = spec.dataset
    return dataset.split is SplitStrategy.EASY_TO_HARD and dataset.difficulty.method is DifficultyMethod.COLUMN


def _word_ops_problems(spec: ExperimentSpec) -> list[Problem]:
    """The generated splits (easy-to-hard) or pool (random) against what each kind of question can hold."""
    dataset = spec.dataset
    try:
        if dataset.split is SplitStrategy.EASY_TO_HARD:
            check_word_ops_sizes(dataset.sizes)
            return []
        pool = dataset.max_items or DEFAULT_SIZE
        check_word_ops_pool(pool)
    except DatasetError as error:
        return problems_from_error(error)
    what = "generated questions" + ("" if dataset.max_items else f" (default size {DEFAULT_SIZE})")
    return split_shortfalls(dataset.sizes, dataset.split, pool, what)


def _seed_problems(spec: ExperimentSpec, questions: Sequence[QuestionRow], seed: int, *, split: bool) -> list[Problem]:
    """Format and split the pool of one seed as prepare will (``split`` False: sizes only)."""
    dataset = spec.dataset
    try:
        pool = to_qa_items(
            shuffled_questions(questions, dataset.max_items, seed), seed, spec.generation_settings.choice_answer
        )
        if split and dataset.difficulty.method is not DifficultyMethod.KFOLD:
            split_questions(dataset, pool, seed)
        else:  # bad rows (their problems say enough) or kfold (the spec refuses it): the sizes alone
            check_pool(dataset.sizes, dataset.split, len(pool))
    except DatasetError as error:
        return problems_from_error(error)
    return []
