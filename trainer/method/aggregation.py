"""The ensemble of the first r learners, its pseudo-labels and its accuracy for every r.

F_r(x) = sum_{t<r} alpha_t * p_t(x) (`CombineMethod.PROB`, the authors' default) or
sum_{t<r} alpha_t * onehot(argmax p_t(x)) (`CombineMethod.VOTE`).
Soft pseudo-label = F_r / sum_{t<r} alpha_t; hard pseudo-label = argmax F_r (ties go to the lower
class id, as numpy's argmax does).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from ensemw2s.spec import CombineMethod
from ensemw2s.trainer.method._checks import class_labels, float_array, probabilities, same_length
from ensemw2s.trainer.method.errors import MethodError


def ensemble_scores(
    probs: npt.ArrayLike,
    alphas: npt.ArrayLike,
    rounds: int,
    method: CombineMethod = CombineMethod.PROB,
) -> npt.NDArray[np.float64]:
    """F_r of shape (N, K) for probs of shape (T, N, K), alphas of shape (T,) and r = ``rounds``."""
    p, a = _stack(probs, alphas)
    _check_rounds(rounds, p.shape[0])
    scores: npt.NDArray[np.float64] = _cumulative_scores(p[:rounds], a[:rounds], method)[-1]
    return scores


def soft_pseudo_labels(
    probs: npt.ArrayLike,
    alphas: npt.ArrayLike,
    rounds: int,
    method: CombineMethod = CombineMethod.PROB,
) -> npt.NDArray[np.float64]:
    """F_r / sum_{t<r} alpha_t: a distribution over classes per example (rows sum to 1)."""
    scores = ensemble_scores(probs, alphas, rounds, method)
    soft: npt.NDArray[np.float64] = scores / float_array(alphas, "alphas", ndim=1)[:rounds].sum()
    return soft


def hard_pseudo_labels(
    probs: npt.ArrayLike,
    alphas: npt.ArrayLike,
    rounds: int,
    method: CombineMethod = CombineMethod.PROB,
) -> npt.NDArray[np.float64]:
    """onehot(argmax F_r) as floats of shape (N, K)."""
    scores = ensemble_scores(probs, alphas, rounds, method)
    return _onehot(np.argmax(scores, axis=-1), scores.shape[-1])


def prefix_ensemble_accuracy(
    probs: npt.ArrayLike,
    alphas: npt.ArrayLike,
    labels: npt.ArrayLike,
    method: CombineMethod = CombineMethod.PROB,
) -> list[float]:
    """Accuracy of F_r against ``labels`` for r = 1 .. T (entry r-1), from one cumulative sum."""
    p, a = _stack(probs, alphas)
    gold = class_labels(labels, "labels", p.shape[1], p.shape[2])
    predictions = np.argmax(_cumulative_scores(p, a, method), axis=-1)
    return [float(accuracy) for accuracy in (predictions == gold[None, :]).mean(axis=1)]


def choose_rounds(val_accuracies: Sequence[float]) -> int:
    """The r (1-based) whose prefix ensemble has the best val accuracy; ties go to the smallest r.

    Chosen on val, never on hard-test: the authors picked the best round on test, which a
    reviewer rightly objected to. Pass ``prefix_ensemble_accuracy(val_probs, ...)``.
    """
    accuracies = float_array(list(val_accuracies), "val_accuracies", ndim=1)
    if accuracies.size == 0:
        raise MethodError("val_accuracies: must hold one accuracy per round (got 0); train a round first")
    if np.any((accuracies < 0) | (accuracies > 1)):
        raise MethodError(
            f"val_accuracies: must be in [0, 1] (got min {accuracies.min():.3g}, "
            f"max {accuracies.max():.3g}); pass accuracies, not counts"
        )
    return int(np.argmax(accuracies)) + 1


def _stack(probs: npt.ArrayLike, alphas: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    p = probabilities(probs, "probs", ndim=3)
    if p.shape[0] < 1:
        raise MethodError(f"probs: must hold at least one learner (got shape {p.shape})")
    a = float_array(alphas, "alphas", ndim=1)
    same_length("alphas", a.shape[0], p.shape[0], "the learners in probs")
    if np.any(a <= 0):
        bad = int(np.argmax(a <= 0))
        raise MethodError(
            f"alphas[{bad}]: must be > 0 (got {a[bad]:.3g}); a learner no better than chance is not "
            "part of the ensemble, drop it"
        )
    return p, a


def combine_method(value: str) -> CombineMethod:
    """``value`` as a `CombineMethod` ("prob" or "vote")."""
    try:
        return CombineMethod(value)
    except ValueError as error:
        allowed = ", ".join(member.value for member in CombineMethod)
        raise MethodError(f"method: must be one of {allowed} (got {value!r})") from error


def _check_rounds(rounds: int, num_learners: int) -> None:
    if not 1 <= rounds <= num_learners:
        raise MethodError(f"rounds: must be in [1, {num_learners}], the number of learners (got {rounds})")


def _cumulative_scores(
    probs: npt.NDArray[np.float64], alphas: npt.NDArray[np.float64], method: CombineMethod
) -> npt.NDArray[np.float64]:
    """F_r for r = 1 .. T, shape (T, N, K)."""
    method = combine_method(method)
    outputs = probs if method is CombineMethod.PROB else _onehot(np.argmax(probs, axis=-1), probs.shape[-1])
    scores: npt.NDArray[np.float64] = np.cumsum(alphas[:, None, None] * outputs, axis=0)
    return scores


def _onehot(classes: npt.NDArray[np.intp], num_classes: int) -> npt.NDArray[np.float64]:
    encoded: npt.NDArray[np.float64] = np.eye(num_classes, dtype=np.float64)[classes]
    return encoded
