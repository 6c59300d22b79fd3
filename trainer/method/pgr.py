"""Accuracy and performance gap recovered (PGR).

PGR = (acc_student - acc_supervisor) / (acc_ceiling - acc_supervisor), computed on the mean accuracies
over seeds, with a 95% bootstrap interval; undefined (``None``, printed ``n/a``) when the gap is not
above the hard-test set's noise (see `ensemw2s.trainer.method.intervals.pgr_estimate`) or when the
ceiling is below the supervisor (there is no gap to recover, and the ratio would read backwards).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from ensemw2s.spec.results import PGRIntervals, PGRs
from ensemw2s.spec.results_text import format_pgr
from ensemw2s.trainer.method._checks import class_ids, class_labels, float_array
from ensemw2s.trainer.method.errors import MethodError
from ensemw2s.trainer.method.intervals import HardTestOutcomes, MeanAccuracySamples

__all__ = ["PGR_DEFINITIONS", "accuracy", "format_pgr", "performance_gap_recovered", "pgrs_with_intervals"]

PGR_DEFINITIONS: dict[str, tuple[str, str]] = {
    "w2s_vs_weak": ("w2s", "weak"),
    "ensemw2s_vs_weak": ("ensemw2s", "weak"),
    "ensemw2s_vs_ensemble": ("ensemw2s", "weak_ensemble"),
}
"""`PGRs` field -> (student, supervisor), as `Accuracies` field names; the ceiling is always ``ceiling``."""


def accuracy(probs_or_labels: npt.ArrayLike, labels: npt.ArrayLike) -> float:
    """Fraction of examples whose prediction equals the label.

    ``probs_or_labels``: class scores of shape (N, K) (the argmax is the prediction) or predicted
    class ids of shape (N,).
    """
    predictions = np.asarray(probs_or_labels)
    if predictions.ndim in (1, 2) and predictions.shape[0] == 0:
        raise MethodError("probs_or_labels: must hold at least one example (got 0)")
    if predictions.ndim == 2:
        scores = float_array(predictions, "probs_or_labels", ndim=2)
        predicted = np.argmax(scores, axis=1).astype(np.int64)
        gold = class_labels(labels, "labels", predicted.shape[0], scores.shape[1])
    elif predictions.ndim == 1:
        predicted = class_ids(predictions, "probs_or_labels", predictions.shape[0])
        gold = class_ids(labels, "labels", predicted.shape[0])
    else:
        raise MethodError(
            f"probs_or_labels: must have shape (N, K) or (N,) (got {predictions.shape}); "
            "pass class scores or predicted class ids"
        )
    return float(np.mean(predicted == gold))


def performance_gap_recovered(student: float | None, weak: float | None, ceiling: float | None) -> float | None:
    """(student - weak) / (ceiling - weak); None when an input is None or the ceiling is not above ``weak``.

    The point formula only: whether the gap is above the test set's noise needs the per-item outcomes
    (`pgrs_with_intervals`).
    """
    if student is None or weak is None or ceiling is None:
        return None
    for name, value in (("student", student), ("weak", weak), ("ceiling", ceiling)):
        if not math.isfinite(value):
            raise MethodError(f"{name}: must be a finite accuracy (got {value})")
    gap = ceiling - weak
    return None if gap <= 0 else (student - weak) / gap


def pgrs_with_intervals(outcomes: Sequence[HardTestOutcomes]) -> tuple[PGRs, PGRIntervals]:
    """The three PGRs of the mean accuracies over ``outcomes`` (one per seed) and their 95% intervals."""
    samples = MeanAccuracySamples.draw(outcomes)
    values: dict[str, float | None] = {}
    intervals: dict[str, object] = {}
    for field, (student, supervisor) in PGR_DEFINITIONS.items():
        estimate = samples.pgr(student, supervisor, "ceiling")
        values[field], intervals[field] = estimate.value, estimate.interval
    return PGRs.model_validate(values), PGRIntervals.model_validate(intervals)
