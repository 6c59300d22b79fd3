import numpy as np
import pytest
from ensemw2s.trainer.method import (
    CombineMethod,
    MethodError,
    choose_rounds,
    ensemble_scores,
    hard_pseudo_labels,
    prefix_ensemble_accuracy,
    prefix_ensemble_brier,
    prefix_weights,
    soft_pseudo_labels,
)

# T=3 learners, N=2 examples, K=2 classes, alphas 1, 2, 0.5.
PROBS = np.array(
    [
        [[0.6, 0.4], [0.3, 0.7]],
        [[0.2, 0.8], [0.45, 0.55]],
        [[0.9, 0.1], [0.8, 0.2]],
    ]
)
ALPHAS = np.array([1.0, 2.0, 0.5])
LABELS = np.array([1, 0])


@pytest.mark.parametrize(
    ("rounds", "expected"),
    [
        (1, [[0.6, 0.4], [0.3, 0.7]]),
        (2, [[1.0 / 3, 2.0 / 3], [1.2 / 3, 1.8 / 3]]),
        (3, [[1.45 / 3.5, 2.05 / 3.5], [1.6 / 3.5, 1.9 / 3.5]]),
    ],
)
def test_prob_scores_by_hand(rounds, expected):
    assert ensemble_scores(PROBS, ALPHAS, rounds) == pytest.approx(np.array(expected))


@pytest.mark.parametrize(
    ("rounds", "expected"),
    [
        (1, [[1, 0], [0, 1]]),
        (2, [[1 / 3, 2 / 3], [0, 1]]),
        (3, [[1.5 / 3.5, 2 / 3.5], [0.5 / 3.5, 3 / 3.5]]),
    ],
)
def test_vote_scores_by_hand(rounds, expected):
    scores = ensemble_scores(PROBS, ALPHAS, rounds, CombineMethod.VOTE)
    assert scores == pytest.approx(np.array(expected, dtype=float))


def test_soft_pseudo_labels_are_scores_over_alpha_sum():
    soft = soft_pseudo_labels(PROBS, ALPHAS, 2)
    assert soft == pytest.approx(np.array([[1 / 3, 2 / 3], [0.4, 0.6]]))
    for method in CombineMethod:
        for rounds in (1, 2, 3):
            assert soft_pseudo_labels(PROBS, ALPHAS, rounds, method).sum(axis=1) == pytest.approx([1, 1])


def test_single_learner_soft_labels_are_its_probabilities():
    assert soft_pseudo_labels(PROBS[:1], [0.7], 1) == pytest.approx(PROBS[0])
    assert prefix_ensemble_accuracy(PROBS[:1], [0.7], LABELS) == [0.0]


def test_hard_pseudo_labels_are_onehot_argmax():
    assert hard_pseudo_labels(PROBS, ALPHAS, 1).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert hard_pseudo_labels(PROBS, ALPHAS, 3).tolist() == [[0.0, 1.0], [0.0, 1.0]]


def test_prefix_accuracy_by_hand():
    assert prefix_ensemble_accuracy(PROBS, ALPHAS, LABELS) == [0.0, 0.5, 0.5]
    assert prefix_ensemble_accuracy(PROBS, ALPHAS, LABELS, CombineMethod.VOTE) == [0.0, 0.5, 0.5]


def test_prob_and_vote_disagree_on_confident_minority():
    # Two barely-sure learners say class 0, one certain learner says class 1.
    probs = np.array([[[0.51, 0.49]], [[0.51, 0.49]], [[0.0, 1.0]]])
    alphas = [1.0, 1.0, 1.0]
    assert hard_pseudo_labels(probs, alphas, 3, CombineMethod.PROB).tolist() == [[0.0, 1.0]]
    assert hard_pseudo_labels(probs, alphas, 3, CombineMethod.VOTE).tolist() == [[1.0, 0.0]]
    assert prefix_ensemble_accuracy(probs, alphas, [0], "prob") == [1.0, 1.0, 0.0]
    assert prefix_ensemble_accuracy(probs, alphas, [0], "vote") == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("method", list(CombineMethod))
def test_prefix_accuracy_agrees_with_each_prefix_ensemble(method):
    rng = np.random.default_rng(0)
    probs = rng.dirichlet([1.0, 1.0, 1.0], size=(5, 40))
    alphas = rng.uniform(0.1, 2.0, size=5)
    labels = rng.integers(0, 3, size=40)
    expected = [
        float(np.mean(np.argmax(hard_pseudo_labels(probs, alphas, r, method), axis=1) == labels)) for r in range(1, 6)
    ]
    assert prefix_ensemble_accuracy(probs, alphas, labels, method) == expected


@pytest.mark.parametrize(
    ("brier", "chosen"),
    [
        ([0.3], 1),
        ([0.3, 0.2, 0.25], 2),
        ([0.3, 0.2, 0.2, 0.25], 3),  # a tie goes to the larger r
        ([0.1, 0.1, 0.1], 3),
        ([0.5, 0.4, 0.3], 3),
    ],
)
def test_choose_rounds_takes_lowest_brier_then_most_learners(brier, chosen):
    assert choose_rounds(brier) == chosen


def test_brier_keeps_choosing_after_accuracy_saturates():
    # Both prefixes are 100% accurate on val; the second is better calibrated and is chosen.
    probs = np.array([[[0.4, 0.6], [0.6, 0.4]], [[0.1, 0.9], [0.9, 0.1]]])
    labels = [1, 0]
    assert prefix_ensemble_accuracy(probs, [1.0, 1.0], labels) == [1.0, 1.0]
    brier = prefix_ensemble_brier(probs, [1.0, 1.0], labels)
    # r = 1: 2 * 0.4^2 = 0.32 per item; r = 2: mean probs (0.25, 0.75): 2 * 0.25^2 = 0.125
    assert brier == pytest.approx([0.32, 0.125])
    assert choose_rounds(brier) == 2


@pytest.mark.parametrize(
    ("brier", "message"),
    [
        ([], r"val_brier: must hold one Brier score per round \(got 0\)"),
        ([0.5, 2.5], r"val_brier: must be Brier scores in \[0, 2\] \(got \[0.5, 2.5\]\)"),
        ([0.5, float("nan")], r"val_brier: must be Brier scores in \[0, 2\]"),
    ],
)
def test_choose_rounds_rejects(brier, message):
    with pytest.raises(MethodError, match=message):
        choose_rounds(brier)


def test_a_learner_without_measured_error_takes_the_whole_weight():
    # Learner 1 has eps = 0 (alpha None): every prefix that contains it is that learner alone.
    assert prefix_weights([1.0, None, 0.5]).tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]
    assert ensemble_scores(PROBS, [1.0, None, 0.5], 3) == pytest.approx(PROBS[1])
    assert prefix_weights([2.0, 1.0]).tolist() == [[1.0, 0.0], [2 / 3, 1 / 3]]


@pytest.mark.parametrize(
    ("probs", "alphas", "rounds", "method", "message"),
    [
        (PROBS, ALPHAS, 0, "prob", r"rounds: must be in \[1, 3\], the number of learners \(got 0\)"),
        (PROBS, ALPHAS, 4, "prob", r"rounds: must be in \[1, 3\], the number of learners \(got 4\)"),
        (PROBS, [1.0, 2.0], 1, "prob", r"alphas: must have 3 entries like the learners in probs \(got 2\)"),
        (PROBS, [1.0, 0.0, 1.0], 1, "prob", r"alphas\[1\]: must be > 0 \(got 0\); a learner no better"),
        (PROBS[0], [1.0], 1, "prob", r"probs: must have 3 dimensions \(got shape \(2, 2\)\)"),
        (np.zeros((0, 2, 2)), [], 1, "prob", r"alphas: must hold one weight per learner \(got \[\]\)"),
        (PROBS, ALPHAS, 1, "max", r"method: must be one of prob, vote \(got 'max'\)"),
    ],
)
def test_ensemble_scores_rejects(probs, alphas, rounds, method, message):
    with pytest.raises(MethodError, match=message):
        ensemble_scores(probs, alphas, rounds, method)


def test_prefix_accuracy_rejects_mismatched_labels():
    with pytest.raises(MethodError, match=r"labels: must have shape \(2,\)"):
        prefix_ensemble_accuracy(PROBS, ALPHAS, [0, 1, 1])
