"""The ensemble of the first r learners, its pseudo-labels, its accuracy and Brier score for every r.

F_r(x) = sum_{t<r} alpha_t * p_t(x) / sum_{t<r} alpha_t (`CombineMethod.PROB`, the authors' default) or
the same sum over onehot(argmax p_t(x)) (`CombineMethod.VOTE`): a distribution over classes per example.
A learner whose alpha is infinite (no measured error, see `SammeAlpha.whole_weight`) takes the whole
weight of every prefix that contains it: the limit of the weighted sum as its alpha grows.
Soft pseudo-label = F_r; hard pseudo-label = argmax F_r (ties go to the lower class id, as numpy's
argmax does).

r is chosen on val (easy side, never test) by the Brier score of F_r, which keeps improving after
accuracy on easy items saturates near 1; ties go to the larger r.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from ensemw2s.spec import CombineMethod
from ensemw2s.trainer.method._checks import class_labels, probabilities, same_length
from ensemw2s.trainer.method.errors import MethodError

TIE_TOLERANCE = 1e-12
"""Two Brier scores closer than this are a tie (and the larger r wins)."""


def learner_weights(alphas: Sequence[float | None]) -> npt.NDArray[np.float64]:
    """alphas as an array; ``None`` (the learner takes the whole weight) becomes +inf."""
    values = np.array([np.inf if alpha is None else alpha for alpha in alphas], dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise MethodError(f"alphas: must hold one weight per learner (got {list(alphas)})")
    if np.any(np.isnan(values)) or np.any(values <= 0):
        bad = int(np.argmax(np.isnan(values) | (values <= 0)))
        raise MethodError(
            f"alphas[{bad}]: must be > 0 (got {values[bad]:.3g}); a learner no better than chance is not "
            "part of the ensemble, drop it"
        )
    return values


def prefix_weights(alphas: Sequence[float | None]) -> npt.NDArray[np.float64]:
    """Row r-1 holds the normalised weights of the learners in F_r, shape (T, T), lower triangular."""
    a = learner_weights(alphas)
    count = a.shape[0]
    weights = np.zeros((count, count))
    for r in range(1, count + 1):
        prefix = a[:r]
        whole = np.flatnonzero(np.isinf(prefix))
        if whole.size:
            weights[r - 1, whole[0]] = 1.0
        else:
            weights[r - 1, :r] = prefix / prefix.sum()
    return weights


def prefix_ensembles(
    probs: npt.ArrayLike, alphas: Sequence[float | None], method: CombineMethod = CombineMethod.PROB
) -> npt.NDArray[np.float64]:
    """F_r for r = 1 .. T, shape (T, N, K), from probs of shape (T, N, K)."""
    p = probabilities(probs, "probs", ndim=3)
    weights = prefix_weights(alphas)
    same_length("alphas", weights.shape[0], p.shape[0], "the learners in probs")
    method = combine_method(method)
    outputs = p if method is CombineMethod.PROB else _onehot(np.argmax(p, axis=-1), p.shape[-1])
    ensembles: npt.NDArray[np.float64] = np.einsum("rt,tnk->rnk", weights, outputs)
    return ensembles


def ensemble_scores(
    probs: npt.ArrayLike,
    alphas: Sequence[float | None],
    rounds: int,
    method: CombineMethod = CombineMethod.PROB,
) -> npt.NDArray[np.float64]:
    """F_r of shape (N, K) for probs of shape (T, N, K) and r = ``rounds``; rows sum to 1."""
    ensembles = prefix_ensembles(probs, alphas, method)
    _check_rounds(rounds, ensembles.shape[0])
    chosen: npt.NDArray[np.float64] = ensembles[rounds - 1]
    return chosen


def soft_pseudo_labels(
    probs: npt.ArrayLike,
    alphas: Sequence[float | None],
    rounds: int,
    method: CombineMethod = CombineMethod.PROB,
) -> npt.NDArray[np.float64]:
    """F_r itself: a distribution over classes per example (rows sum to 1)."""
    return ensemble_scores(probs, alphas, rounds, method)


def hard_pseudo_labels(
    probs: npt.ArrayLike,
    alphas: Sequence[float | None],
    rounds: int,
    method: CombineMethod = CombineMethod.PROB,
) -> npt.NDArray[np.float64]:
    """onehot(argmax F_r) as floats of shape (N, K)."""
    return harden(ensemble_scores(probs, alphas, rounds, method))


def harden(soft: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """onehot(argmax) of class scores of shape (N, K): the hard form of soft labels."""
    scores = probabilities(soft, "soft", ndim=2)
    return _onehot(np.argmax(scores, axis=-1), scores.shape[-1])


def prefix_ensemble_accuracy(
    probs: npt.ArrayLike,
    alphas: Sequence[float | None],
    labels: npt.ArrayLike,
    method: CombineMethod = CombineMethod.PROB,
) -> list[float]:
    """Accuracy of F_r against ``labels`` for r = 1 .. T (entry r-1)."""
    ensembles, gold = _prefixes_and_gold(probs, alphas, labels, method)
    predictions = np.argmax(ensembles, axis=-1)
    return [float(accuracy) for accuracy in (predictions == gold[None, :]).mean(axis=1)]


def prefix_ensemble_brier(
    probs: npt.ArrayLike,
    alphas: Sequence[float | None],
    labels: npt.ArrayLike,
    method: CombineMethod = CombineMethod.PROB,
) -> list[float]:
    """Brier score of F_r, mean_i sum_k (F_r(x_i)_k - 1[y_i = k])^2, for r = 1 .. T (lower is better)."""
    ensembles, gold = _prefixes_and_gold(probs, alphas, labels, method)
    target = _onehot(gold, ensembles.shape[2])
    return [float(score) for score in ((ensembles - target[None]) ** 2).sum(axis=-1).mean(axis=-1)]


def _prefixes_and_gold(
    probs: npt.ArrayLike, alphas: Sequence[float | None], labels: npt.ArrayLike, method: CombineMethod
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    ensembles = prefix_ensembles(probs, alphas, method)
    return ensembles, class_labels(labels, "labels", ensembles.shape[1], ensembles.shape[2])


def choose_rounds(val_brier: Sequence[float]) -> int:
    """The r (1-based) whose prefix ensemble has the lowest val Brier score; ties go to the larger r.

    Chosen on val (easy side), never on hard-test: the authors picked the best round on test, which a
    reviewer rightly objected to. Pass ``prefix_ensemble_brier(val_probs, ...)``. Accuracy is not the
    criterion: on easy items it saturates near 1 and every later r would tie.
    """
    scores = np.asarray(list(val_brier), dtype=np.float64)
    if scores.ndim != 1 or scores.size == 0:
        raise MethodError("val_brier: must hold one Brier score per round (got 0); train a round first")
    if not np.all(np.isfinite(scores)) or np.any((scores < 0) | (scores > 2)):
        raise MethodError(
            f"val_brier: must be Brier scores in [0, 2] (got {scores.tolist()}); pass prefix_ensemble_brier(...)"
        )
    return lowest_last(scores)


def lowest_last(scores: npt.NDArray[np.float64]) -> int:
    """The r (1-based) of the lowest score, ties (within `TIE_TOLERANCE`) to the larger r."""
    best = float(scores.min())
    return int(np.flatnonzero(scores <= best + TIE_TOLERANCE)[-1]) + 1


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


def _onehot(classes: npt.NDArray[np.intp] | npt.NDArray[np.int64], num_classes: int) -> npt.NDArray[np.float64]:
    encoded: npt.NDArray[np.float64] = np.eye(num_classes, dtype=np.float64)[classes]
    return encoded
