import numpy as np
import pytest
from ensemw2s.trainer.method import (
    HardTestOutcomes,
    MethodError,
    accuracy,
    format_pgr,
    performance_gap_recovered,
    pgrs_with_intervals,
)


@pytest.mark.parametrize(
    ("student", "weak", "ceiling", "expected"),
    [
        (0.70, 0.60, 0.80, 0.5),
        (0.60, 0.60, 0.80, 0.0),
        (0.80, 0.60, 0.80, 1.0),
        (0.55, 0.60, 0.80, -0.25),
        (0.90, 0.60, 0.80, 1.5),
        (0.70, 0.60, 0.61, 10.0),
    ],
)
def test_pgr_by_hand(student, weak, ceiling, expected):
    assert performance_gap_recovered(student, weak, ceiling) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("student", "weak", "ceiling"),
    [
        (0.7, 0.600, 0.595),
        (0.7, 0.600, 0.600),
        (None, 0.6, 0.8),
        (0.7, None, 0.8),
        (0.7, 0.6, None),
        (0.438, 0.537, 0.438),  # ceiling below the supervisor: nothing to recover (not PGR 1.0)
        (0.5, 0.7, 0.6),
    ],
)
def test_pgr_is_undefined_without_a_gap_or_an_input(student, weak, ceiling):
    assert performance_gap_recovered(student, weak, ceiling) is None


def test_pgr_rejects_non_finite_accuracy():
    with pytest.raises(MethodError, match=r"ceiling: must be a finite accuracy \(got nan\)"):
        performance_gap_recovered(0.7, 0.6, float("nan"))


def test_format_pgr():
    assert format_pgr(None) == "n/a"
    assert format_pgr(0.4712) == "0.47"
    assert format_pgr(-0.254) == "-0.25"


def correct(n_right: int, n: int = 400) -> np.ndarray:
    """The first ``n_right`` of ``n`` items right: accuracies exact by construction."""
    return np.arange(n) < n_right


def test_pgrs_compare_against_weak_and_ensemble_with_intervals():
    outcomes = HardTestOutcomes(
        {
            "weak": correct(240),  # 0.60
            "weak_ensemble": correct(256),  # 0.64
            "w2s": correct(264),  # 0.66
            "ensemw2s": correct(280),  # 0.70
            "ceiling": correct(320),  # 0.80
        }
    )
    pgrs, intervals = pgrs_with_intervals([outcomes])
    assert pgrs.w2s_vs_weak == pytest.approx(0.3)
    assert pgrs.ensemw2s_vs_weak == pytest.approx(0.5)
    assert pgrs.ensemw2s_vs_ensemble == pytest.approx(0.375)
    for field, value in pgrs.model_dump().items():
        interval = getattr(intervals, field)
        assert interval.estimate == pytest.approx(value)
        assert interval.low < value < interval.high


def test_pgrs_are_undefined_when_a_model_is_missing():
    pgrs, intervals = pgrs_with_intervals([HardTestOutcomes({"weak": correct(240), "ceiling": correct(320)})])
    assert pgrs.w2s_vs_weak is None and intervals.w2s_vs_weak is None


def test_accuracy_from_probs_and_from_labels():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])
    assert accuracy(probs, [0, 1, 0, 1]) == 0.75
    assert accuracy(np.array([0, 1, 1, 1]), [0, 1, 0, 1]) == 0.75


@pytest.mark.parametrize(
    ("predictions", "labels", "message"),
    [
        (np.zeros((2, 2, 2)), [0, 1], r"probs_or_labels: must have shape \(N, K\) or \(N,\)"),
        (np.array([], dtype=int), [], r"probs_or_labels: must hold at least one example \(got 0\)"),
        (np.array([0.0, 1.0]), [0, 1], r"probs_or_labels: must be integer class ids"),
        (np.array([0, 1]), [0, 1, 1], r"labels: must have shape \(2,\)"),
        ([[0.2, 0.8]], [3], r"labels: must be class ids in \[0, 2\)"),
    ],
)
def test_accuracy_rejects(predictions, labels, message):
    with pytest.raises(MethodError, match=message):
        accuracy(predictions, labels)
