"""Per-example difficulty d_i in [0, 1]: from a shipped column, k-fold cross-fitting, or a proxy."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
from ensemw2s.spec import DifficultyProxy

from .errors import DatasetError
from .records import Example


class Rated(Protocol):
    """A record that may ship a difficulty value: an item, an example, or a generation question."""

    @property
    def id(self) -> str: ...

    @property
    def difficulty(self) -> float | None: ...


FitPredict = Callable[[list[Example], list[Example]], np.ndarray]
"""fit_predict(train, score) -> class probabilities of shape (len(score), K)."""


# Clause boundaries for the "steps" proxy: sentence punctuation, line breaks, commas and connectives;
# punctuation followed by a connective (", so", ". Then") is one boundary.
_CONNECTIVE = r"\b(?:then|so|because|therefore|but|thus|hence)\b"
_STEP_BOUNDARY = re.compile(rf"(?:[.;!?]*\n+|[.;!?]+(?=\s|$)|,)(?:\s*{_CONNECTIVE})?|{_CONNECTIVE}", re.IGNORECASE)


def difficulty_from_column(records: Sequence[Rated]) -> np.ndarray:
    """The shipped difficulty values, as float64; every record must carry one."""
    if not records:
        raise DatasetError("spec.dataset.difficulty: no items to rate; load at least one item")
    for position, record in enumerate(records):
        if record.difficulty is None:
            raise DatasetError(
                f"spec.dataset.difficulty.method: item '{record.id}' (position {position}) has no "
                "difficulty value (method column needs one on every item); add a difficulty column "
                "or use method kfold or proxy"
            )
    return np.array([record.difficulty for record in records], dtype=np.float64)


def rank_normalise(scores: np.ndarray) -> np.ndarray:
    """Average ranks scaled to [0, 1] (ties share a value; a single score maps to 0)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size <= 1:
        return np.zeros(scores.shape, dtype=np.float64)
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    first_rank = np.cumsum(counts) - counts
    average_rank = first_rank + (counts - 1) / 2.0
    return np.asarray(average_rank[inverse] / (scores.size - 1), dtype=np.float64)


def proxy_score(text: str, proxy: DifficultyProxy) -> int:
    """The raw proxy: words (length) or clauses (steps) in ``text``."""
    if proxy is DifficultyProxy.LENGTH:
        return len(text.split())
    return 1 + len(_STEP_BOUNDARY.findall(text.strip().rstrip(".;!?")))


def difficulty_from_proxy(examples: Sequence[Example], proxy: DifficultyProxy | str) -> np.ndarray:
    """Rank-normalised proxy scores of the examples' texts in [0, 1] (:func:`difficulty_from_texts`)."""
    return difficulty_from_texts([e.text for e in examples], proxy)


def difficulty_from_texts(texts: Sequence[str], proxy: DifficultyProxy | str) -> np.ndarray:
    """Rank-normalised proxy scores in [0, 1]: longer / more steps = harder."""
    if proxy not in set(DifficultyProxy):
        raise DatasetError(
            f"spec.dataset.difficulty.proxy: unknown proxy {proxy!r} (allowed: "
            f"{', '.join(DifficultyProxy)}); pick one of these"
        )
    kind = DifficultyProxy(proxy)
    return rank_normalise(np.array([proxy_score(text, kind) for text in texts], dtype=np.float64))


def kfold_assignment(n: int, k: int, seed: int) -> list[np.ndarray]:
    """``k`` disjoint folds of positions 0..n-1 covering all of them, sizes differing by at most 1."""
    if k < 2:
        raise DatasetError(
            f"spec.dataset.difficulty.folds: k-fold cross-fitting needs k >= 2 (got {k}); set folds to 2 or more"
        )
    if n < k:
        raise DatasetError(
            f"spec.dataset.difficulty.folds: {k} folds need at least {k} examples (got {n}); "
            "lower folds or load more items"
        )
    permutation = np.random.default_rng(seed).permutation(n)
    return [np.sort(fold) for fold in np.array_split(permutation, k)]


def difficulty_from_kfold(examples: Sequence[Example], k: int, seed: int, fit_predict: FitPredict) -> np.ndarray:
    """d_i = 1 - p(gold_i | x_i) from a model fit on the other k-1 folds (proper cross-fitting).

    Every example is scored exactly once, by a model that never saw it in training.
    """
    folds = kfold_assignment(len(examples), k, seed)
    difficulty = np.full(len(examples), np.nan, dtype=np.float64)
    for fold_index, held_out in enumerate(folds):
        in_fold = np.zeros(len(examples), dtype=bool)
        in_fold[held_out] = True
        train = [examples[int(i)] for i in np.flatnonzero(~in_fold)]
        score = [examples[int(i)] for i in held_out]
        probs = _checked_probs(fit_predict(train, score), score, fold_index)
        gold = np.array([e.label for e in score])
        difficulty[held_out] = 1.0 - probs[np.arange(len(score)), gold]
    return np.clip(difficulty, 0.0, 1.0)


def _checked_probs(raw: np.ndarray, score: Sequence[Example], fold_index: int) -> np.ndarray:
    probs = np.asarray(raw, dtype=np.float64)
    where = f"k-fold difficulty, fold {fold_index}"
    if probs.ndim != 2 or probs.shape[0] != len(score):
        raise DatasetError(
            f"{where}: fit_predict returned shape {probs.shape}, expected ({len(score)}, K); "
            "return one row of class probabilities per scored example"
        )
    max_label = max(e.label for e in score)
    if probs.shape[1] <= max_label:
        raise DatasetError(
            f"{where}: fit_predict returned {probs.shape[1]} classes but a label is {max_label}; "
            "return probabilities for every class 0..K-1"
        )
    if not np.all(np.isfinite(probs)) or probs.min() < 0.0 or probs.max() > 1.0:
        raise DatasetError(
            f"{where}: fit_predict returned values outside [0, 1] (min {probs.min()}, max {probs.max()}); "
            "return probabilities (apply softmax to logits)"
        )
    return probs
