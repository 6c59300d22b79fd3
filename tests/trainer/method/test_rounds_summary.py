import math

import numpy as np
import pytest
from ensemw2s.trainer.method import MethodError, seed_results, summarise_boosting

# Two learners, val N=2, hard-test N=2, K=2.
VAL = np.array([[[0.9, 0.1], [0.6, 0.4]], [[0.8, 0.2], [0.1, 0.9]]])
VAL_LABELS = np.array([0, 1])
TEST = np.array([[[0.7, 0.3], [0.2, 0.8]], [[0.4, 0.6], [0.3, 0.7]]])
TEST_LABELS = np.array([0, 1])


LN3 = math.log(3)


def summary(eps=(0.25, 0.0004), alphas=(LN3, 2.0)):
    return summarise_boosting(eps, alphas, VAL, VAL_LABELS, TEST, TEST_LABELS)


def test_summarise_boosting_by_hand():
    result = summary()
    assert [r.val_accuracy for r in result.rounds] == [0.5, 1.0]
    assert [r.hard_test_accuracy for r in result.rounds] == [1.0, 0.5]
    # F_2 on val: [[0.9 ln3 + 1.6, ...], [0.6 ln3 + 0.2, 0.4 ln3 + 1.8]] -> [0, 1]: both right.
    assert [(p.rounds, p.val, p.hard_test) for p in result.prefix] == [(1, 0.5, 1.0), (2, 1.0, 1.0)]
    # Val Brier: r = 1: (0.02 + 0.72) / 2; r = 2 (weights ln3 / (ln3 + 2), 2 / (ln3 + 2)): (0.05415 + 0.15375) / 2.
    assert [p.val_brier for p in result.prefix] == pytest.approx([0.37, 0.10395], abs=1e-4)
    assert result.chosen_round == 2
    assert result.weak_accuracy == 1.0
    assert result.weak_ensemble_accuracy == 1.0
    assert [r.degenerate for r in result.rounds] == [False, True]
    assert (
        result.rounds[1].note == "round 1: eps below 0.001 on the items it was measured on, boosting has little effect"
    )
    assert result.notes == [result.rounds[1].note]


def test_seed_results_fills_accuracies_and_pgrs():
    seed = seed_results(3, summary(), w2s=1.0, ensemw2s=1.0, ceiling=1.0, stop_reason="stopped", notes=["extra"])
    assert seed.seed == 3 and seed.chosen_round == 2 and seed.stop_reason == "stopped"
    assert seed.accuracies.weak == 1.0 and seed.accuracies.weak_ensemble == 1.0
    assert seed.pgr.w2s_vs_weak is None  # PGRs need per-item outcomes: experiment_results fills them in
    assert seed.notes[-1] == "extra" and len(seed.notes) == 2


def test_seed_results_with_students_missing():
    seed = seed_results(0, summary(), w2s=None, ensemw2s=None, ceiling=None)
    assert seed.accuracies.w2s is None and seed.pgr.ensemw2s_vs_weak is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eps": (0.25,)}, r"eps: must have 2 entries like the learners in val_probs \(got 1\)"),
        ({"alphas": (1.0, 1.0, 1.0)}, r"alphas: must have 2 entries like the learners in val_probs \(got 3\)"),
        ({"eps": (0.25, 1.5)}, r"eps: must be weighted errors in \[0, 1\] \(got \[0.25, 1.5\]\)"),
        ({"test": TEST[:1]}, r"hard_test_probs: must have 2 entries like the learners in val_probs \(got 1\)"),
        ({"val": np.zeros((0, 2, 2))}, r"val_probs: must hold at least one learner \(got 0\)"),
    ],
)
def test_summarise_boosting_rejects(kwargs, message):
    arguments = {"eps": (0.25, 0.1), "alphas": (1.0, 1.0), "val": VAL, "test": TEST}
    arguments.update(kwargs)
    with pytest.raises(MethodError, match=message):
        summarise_boosting(
            arguments["eps"], arguments["alphas"], arguments["val"], VAL_LABELS, arguments["test"], TEST_LABELS
        )
