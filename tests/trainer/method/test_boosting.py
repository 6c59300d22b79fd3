import math
import re

import numpy as np
import pytest
from ensemw2s.trainer.method import (
    MethodError,
    chance_stop_reason,
    degenerate_note,
    learner_errors,
    samme_alpha,
    uniform_weights,
    update_weights,
    weighted_error,
)

ONE_ERROR_PROBS = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])
ONE_ERROR_LABELS = np.array([0, 1, 0, 1])


def test_learner_errors_marks_argmax_mismatches():
    errors = learner_errors(ONE_ERROR_PROBS, ONE_ERROR_LABELS)
    assert errors.tolist() == [False, False, False, True]


def test_one_error_in_four_binary_round_by_hand():
    errors = learner_errors(ONE_ERROR_PROBS, ONE_ERROR_LABELS)
    weights = uniform_weights(4)
    eps = weighted_error(weights, errors)
    assert eps == pytest.approx(0.25)
    result = samme_alpha(eps, num_classes=2)
    assert result.alpha == pytest.approx(math.log(3))
    assert result.better_than_chance and not result.degenerate
    new = update_weights(weights, errors, result.alpha)
    assert new == pytest.approx([1 / 6, 1 / 6, 1 / 6, 1 / 2])
    # After the update the learner's weighted error is exactly chance: the next one must do better.
    assert weighted_error(new, errors) == pytest.approx(0.5)


def test_samme_adds_log_k_minus_one():
    assert samme_alpha(0.25, 4).alpha == pytest.approx(math.log(3) + math.log(3))


def test_zero_error_takes_the_whole_weight_without_a_clipping_constant():
    result = samme_alpha(0.0, 2)
    assert result.alpha is None and result.whole_weight
    assert result.degenerate and result.better_than_chance
    # The smallest non-zero error gets its exact, finite SAMME weight: no floor decides it.
    assert samme_alpha(1e-9, 2).alpha == pytest.approx(math.log((1 - 1e-9) / 1e-9))


@pytest.mark.parametrize(
    ("eps", "k", "better"),
    [
        (0.5, 2, False),
        (0.4999, 2, True),
        (0.7, 2, False),
        (1.0, 2, False),
        (2 / 3, 3, False),
        (0.66, 3, True),
        (0.75, 4, False),
        (0.7, 4, True),
    ],
)
def test_better_than_chance_iff_eps_below_one_minus_one_over_k(eps, k, better):
    result = samme_alpha(eps, k)
    assert result.better_than_chance is better
    assert result.alpha is not None and math.isfinite(result.alpha)
    assert (result.alpha > 0) is better


def test_chance_learner_gets_no_weight_not_a_division_by_zero():
    assert samme_alpha(1.0, 2).alpha == 0.0
    assert samme_alpha(0.5, 2).alpha == 0.0


def test_degenerate_threshold_is_1e_minus_3():
    assert samme_alpha(0.0009, 2).degenerate
    assert not samme_alpha(0.001, 2).degenerate


@pytest.mark.parametrize(
    ("eps", "k", "message"),
    [
        (0.2, 1, "num_classes: must be >= 2 (got 1)"),
        (0.2, 2.0, "num_classes: must be an integer"),
        (0.2, True, "num_classes: must be an integer"),
        (-0.1, 2, "eps: must be a weighted error in [0, 1] (got -0.1)"),
        (1.5, 2, "eps: must be a weighted error in [0, 1] (got 1.5)"),
        (float("nan"), 2, "eps: must be a weighted error in [0, 1] (got nan)"),
    ],
)
def test_samme_alpha_rejects(eps, k, message):
    with pytest.raises(MethodError, match=re.escape(message)):
        samme_alpha(eps, k)


def test_chance_stop_reason_and_degenerate_note_text():
    assert chance_stop_reason(3, 0.52, 2) == (
        "round 3: eps 0.52 >= 1 - 1/K = 0.5, learner no better than chance; stopped adding rounds"
    )
    assert degenerate_note(2) == "round 2: eps below 0.001 on the items it was measured on, boosting has little effect"


def test_update_weights_survives_huge_alpha():
    new = update_weights([0.25, 0.25, 0.25, 0.25], [0, 0, 0, 1], alpha=5000.0)
    assert np.all(np.isfinite(new))
    assert new == pytest.approx([0, 0, 0, 1])
    assert new.sum() == pytest.approx(1.0)


def test_update_weights_keeps_zero_weights_at_zero():
    new = update_weights([0.0, 0.5, 0.5], [1, 0, 1], alpha=math.log(3))
    assert new == pytest.approx([0.0, 0.25, 0.75])


def test_update_weights_without_errors_leaves_weights():
    assert update_weights([0.1, 0.9], [0, 0], alpha=2.0) == pytest.approx([0.1, 0.9])


def test_weighted_error_accepts_fractional_errors():
    assert weighted_error([0.5, 0.5], [0.5, 1.0]) == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("weights", "errors", "message"),
    [
        ([0.5, 0.43], [0, 1], r"weights: must sum to 1 within 1e-6 \(got 0.93\)"),
        ([1.5, -0.5], [0, 1], r"weights: must be non-negative \(got min -0.5\)"),
        ([], [], r"weights: must hold at least one weight \(got 0\)"),
        ([[0.5, 0.5]], [0, 1], r"weights: must have 1 dimensions \(got shape \(1, 2\)\)"),
        ([0.5, float("nan")], [0, 1], r"weights: must be finite"),
        (["a", "b"], [0, 1], r"weights: must be numeric \(got list\)"),
        ([0.5, 0.5], [0, 1, 1], r"errors: must have 2 entries like weights \(got 3\)"),
        ([0.5, 0.5], [0, 2], r"errors: must be in \[0, 1\] \(got min 0, max 2\)"),
    ],
)
def test_weighted_error_rejects(weights, errors, message):
    with pytest.raises(MethodError, match=message):
        weighted_error(weights, errors)


def test_update_weights_rejects_non_finite_alpha():
    with pytest.raises(MethodError, match=r"alpha: must be finite \(got inf\)"):
        update_weights([0.5, 0.5], [0, 1], float("inf"))


@pytest.mark.parametrize(
    ("probs", "labels", "message"),
    [
        ([0.1, 0.9], [1], r"probs: must have 2 dimensions"),
        ([[1.0], [1.0]], [0, 0], r"probs: must have K >= 2 classes"),
        (np.zeros((0, 2)), [], r"probs: must hold at least one example"),
        ([[0.1, 0.9]], [0, 1], r"labels: must have shape \(1,\)"),
        ([[0.1, 0.9]], [0.0], r"labels: must be integer class ids \(got dtype float64\)"),
        ([[0.1, 0.9]], [2], r"labels: must be class ids in \[0, 2\) \(got max 2\)"),
        ([[0.1, 0.9]], [-1], r"labels: must be class ids >= 0 \(got min -1\)"),
    ],
)
def test_learner_errors_rejects(probs, labels, message):
    with pytest.raises(MethodError, match=message):
        learner_errors(probs, labels)


def test_uniform_weights():
    assert uniform_weights(4) == pytest.approx([0.25] * 4)
    with pytest.raises(MethodError, match=r"n: must be >= 1 \(got 0\)"):
        uniform_weights(0)
