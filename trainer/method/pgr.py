"""Accuracy and performance gap recovered (PGR).

PGR = (acc_student - acc_weak) / (acc_ceiling - acc_weak), undefined (``None``, printed ``n/a``)
when ceiling - weak < 0.01: it explodes when the ceiling is about as good as the supervisor and reads backwards when the ceiling is worse.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from ensemw2s.spec.results import Accuracies, PGRs
from ensemw2s.trainer.method._checks import class_ids, class_labels, float_array
from ensemw2s.trainer.method.errors import MethodError

MIN_GAP = 0.01
"""The smallest |ceiling - weak| for which a PGR is reported."""


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


def performance_gap_recovered(
    student: float | None,
    weak: float | None,
    ceiling: float | None,
    min_gap: float = MIN_GAP,
) -> float | None:
    """(student - weak) / (ceiling - weak); None when an input is None or ceiling - weak < min_gap.

    The design says n/a when |ceiling - weak| < 0.01; we also say n/a when the ceiling is *below* the
    supervisor: there is no gap to recover, and the ratio's sign would read backwards (a student worse
    than its supervisor would score a positive PGR).
    """
    if min_gap <= 0 or not math.isfinite(min_gap):
        raise MethodError(f"min_gap: must be a positive number (got {min_gap}); the default is {MIN_GAP}")
    if student is None or weak is None or ceiling is None:
        return None
    for name, value in (("student", student), ("weak", weak), ("ceiling", ceiling)):
        if not math.isfinite(value):
            raise MethodError(f"{name}: must be a finite accuracy (got {value})")
    gap = ceiling - weak
    if gap < min_gap:
        return None
    return (student - weak) / gap


def pgrs_for(accuracies: Accuracies, min_gap: float = MIN_GAP) -> PGRs:
    """The three reported PGRs of one set of hard-test accuracies."""
    return PGRs(
        w2s_vs_weak=performance_gap_recovered(accuracies.w2s, accuracies.weak, accuracies.ceiling, min_gap),
        ensemw2s_vs_weak=performance_gap_recovered(accuracies.ensemw2s, accuracies.weak, accuracies.ceiling, min_gap),
        ensemw2s_vs_ensemble=performance_gap_recovered(
            accuracies.ensemw2s, accuracies.weak_ensemble, accuracies.ceiling, min_gap
        ),
    )


def format_pgr(value: float | None) -> str:
    """``n/a`` for an undefined PGR, else two decimals (``0.47``)."""
    return "n/a" if value is None else f"{value:.2f}"
