"""SAMME boosting over weak learners: errors, learner weights, sample-weight updates.

For rounds t = 0 .. T-1 with sample weights w over the easy set (w_i = 1/N at t = 0):
e_i = 1[argmax p_t(x_i) != y_i], eps_t = sum_i w_i e_i,
alpha_t = ln((1 - eps_t) / eps_t) + ln(K - 1) for 0 < eps_t < 1 - 1/K,
w_i <- w_i exp(alpha_t e_i), normalised to sum 1.

No clipping constant decides a weight. The two ends of the range:
- eps_t = 0 (no measured error): alpha_t -> infinity, the limit of the SAMME ensemble is this learner
  alone. As scikit-learn's AdaBoost does, boosting stops and the learner takes the whole weight of every
  prefix ensemble that contains it (``alpha`` is ``None``: see `SammeAlpha.whole_weight`).
- eps_t >= 1 - 1/K: the learner is no better than chance; it joins no ensemble and boosting stops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ensemw2s.trainer.method._checks import (
    class_labels,
    float_array,
    probabilities,
    same_length,
    sample_weights,
)
from ensemw2s.trainer.method.errors import MethodError

DEGENERATE_EPS = 1e-3
"""Below this error a learner (almost) fits the items it is scored on: boosting barely moves the weights."""


@dataclass(frozen=True)
class SammeAlpha:
    """The SAMME learner weight of one round, and what the round's error says."""

    alpha: float | None
    """ln((1 - eps) / eps) + ln(K - 1); ``None`` when eps = 0 (the learner takes the whole weight)."""
    better_than_chance: bool
    """False when eps >= 1 - 1/K: stop adding rounds (see `chance_stop_reason`)."""
    degenerate: bool
    """eps < 1e-3: the learner fit the items its error was measured on and the weights barely move."""

    @property
    def whole_weight(self) -> bool:
        """eps = 0: no measured error, boosting stops and this learner is the ensemble."""
        return self.alpha is None


def learner_errors(probs: npt.ArrayLike, labels: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """e_i = argmax_k probs[i, k] != labels[i], for probs of shape (N, K)."""
    scores = probabilities(probs, "probs", ndim=2)
    gold = class_labels(labels, "labels", scores.shape[0], scores.shape[1])
    errors: npt.NDArray[np.bool_] = np.argmax(scores, axis=1) != gold
    return errors


def weighted_error(weights: npt.ArrayLike, errors: npt.ArrayLike) -> float:
    """eps = sum_i w_i e_i; weights non-negative and summing to 1 within 1e-6, errors in [0, 1]."""
    w = sample_weights(weights)
    e = _errors(errors, w.shape[0])
    return float(min(1.0, max(0.0, float(np.dot(w, e)))))


def samme_alpha(eps: float, num_classes: int) -> SammeAlpha:
    """alpha = ln((1 - eps) / eps) + ln(K - 1); ``None`` at eps = 0; not better than chance from 1 - 1/K."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
        raise MethodError(f"num_classes: must be an integer (got {num_classes!r})")
    if num_classes < 2:
        raise MethodError(f"num_classes: must be >= 2 (got {num_classes}); a classifier needs two classes")
    return samme_with_prior(eps, chance_error(int(num_classes)), math.log(num_classes - 1))


def samme_with_prior(eps: float, chance: float, log_prior: float) -> SammeAlpha:
    """alpha = ln((1 - eps) / eps) + ``log_prior``; ``None`` at eps = 0; not better than chance from ``chance``.

    The one SAMME rule of both tasks: classes (prior ln(K - 1), chance 1 - 1/K) and answer tokens (prior
    ln(1/q - 1), chance 1 - q; `token_boosting.token_samme_alpha`).
    """
    if not math.isfinite(eps) or not 0.0 <= eps <= 1.0:
        raise MethodError(f"eps: must be a weighted error in [0, 1] (got {eps}); see weighted_error")
    better = eps < chance - 1e-12
    alpha: float | None = 0.0
    if eps == 0.0:
        alpha = None
    elif better:
        alpha = math.log((1.0 - eps) / eps) + log_prior
    return SammeAlpha(alpha=alpha, better_than_chance=better, degenerate=eps < DEGENERATE_EPS)


def chance_error(num_classes: int) -> float:
    """1 - 1/K: the weighted error of a learner that guesses."""
    return 1.0 - 1.0 / num_classes


def chance_stop_reason(round_index: int, eps: float, num_classes: int) -> str:
    """Why boosting stopped at a learner no better than chance (for `SeedResults.stop_reason`)."""
    return (
        f"round {round_index}: eps {eps:.3g} >= 1 - 1/K = {chance_error(num_classes):.3g}, "
        "learner no better than chance; stopped adding rounds"
    )


def whole_weight_stop_reason(round_index: int) -> str:
    """Why boosting stopped at a learner with no measured error."""
    return (
        f"round {round_index}: eps = 0 (no measured error), so this learner takes the whole weight of "
        "every ensemble that contains it; stopped adding rounds"
    )


def degenerate_note(round_index: int) -> str:
    """The note recorded for a round whose learner fit the items its error was measured on."""
    return (
        f"round {round_index}: eps below {DEGENERATE_EPS:g} on the items it was measured on, boosting has little effect"
    )


def update_weights(weights: npt.ArrayLike, errors: npt.ArrayLike, alpha: float) -> npt.NDArray[np.float64]:
    """w_i exp(alpha e_i), normalised to sum 1; computed in log space so huge alphas cannot overflow."""
    w = sample_weights(weights)
    e = _errors(errors, w.shape[0])
    if not math.isfinite(alpha):
        raise MethodError(f"alpha: must be finite (got {alpha}); use samme_alpha, which clips eps")
    with np.errstate(divide="ignore"):
        log_w = np.log(w) + alpha * e
    log_w -= np.max(log_w)
    updated = np.exp(log_w)
    normalised: npt.NDArray[np.float64] = updated / updated.sum()
    return normalised


def uniform_weights(n: int) -> npt.NDArray[np.float64]:
    """w_i = 1/n: the weights of round 0."""
    if n < 1:
        raise MethodError(f"n: must be >= 1 (got {n}); the easy set is empty")
    return np.full(n, 1.0 / n)


def _errors(errors: npt.ArrayLike, size: int) -> npt.NDArray[np.float64]:
    e: npt.NDArray[np.float64] = float_array(errors, "errors", ndim=1)
    same_length("errors", e.shape[0], size, "weights")
    if np.any((e < 0) | (e > 1)):
        raise MethodError(
            f"errors: must be in [0, 1] (got min {e.min():.3g}, max {e.max():.3g}); pass learner_errors(probs, labels)"
        )
    return e
