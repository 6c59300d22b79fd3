import numpy as np
import pytest
from ensemw2s.spec.results import Accuracies
from ensemw2s.trainer.method import MethodError, accuracy, format_pgr, performance_gap_recovered, pgrs_for


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
        (0.7, 0.600, 0.605),
        (0.7, 0.600, 0.595),
        (0.7, 0.600, 0.600),
        (None, 0.6, 0.8),
        (0.7, None, 0.8),
        (0.7, 0.6, None),
        (0.438, 0.537, 0.438),  # ceiling below the supervisor: nothing to recover (not PGR 1.0)
        (0.5, 0.7, 0.6),
    ],
)
def test_pgr_is_undefined_when_gap_is_tiny_or_input_missing(student, weak, ceiling):
    assert performance_gap_recovered(student, weak, ceiling) is None


def test_pgr_min_gap_is_configurable():
    assert performance_gap_recovered(0.7, 0.6, 0.65, min_gap=0.1) is None
    with pytest.raises(MethodError, match=r"min_gap: must be a positive number \(got 0\)"):
        performance_gap_recovered(0.7, 0.6, 0.8, min_gap=0)


def test_pgr_rejects_non_finite_accuracy():
    with pytest.raises(MethodError, match=r"ceiling: must be a finite accuracy \(got nan\)"):
        performance_gap_recovered(0.7, 0.6, float("nan"))


def test_format_pgr():
    assert format_pgr(None) == "n/a"
    assert format_pgr(0.4712) == "0.47"
    assert format_pgr(-0.254) == "-0.25"


def test_pgrs_for_compares_against_weak_and_ensemble():
    pgrs = pgrs_for(Accuracies(weak=0.6, weak_ensemble=0.64, w2s=0.66, ensemw2s=0.7, ceiling=0.8))
    assert pgrs.w2s_vs_weak == pytest.approx(0.3)
    assert pgrs.ensemw2s_vs_weak == pytest.approx(0.5)
    assert pgrs.ensemw2s_vs_ensemble == pytest.approx(0.375)
    assert pgrs_for(Accuracies(weak=0.6)).w2s_vs_weak is None


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
