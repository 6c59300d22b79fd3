from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from ensemw2s.trainer.method import samme_alpha, update_weights
from ensemw2s.trainer.training import (
    example_loss_scales,
    harden_predictions,
    logconf_alpha,
    logconf_loss,
    logconf_targets,
    per_example_cross_entropy,
    scaled_batch_loss,
    soft_cross_entropy,
)

# softmax([0, ln 3]) = [0.25, 0.75]; softmax([0, 0]) = [0.5, 0.5]
LOGITS = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]])
TARGETS = torch.tensor([[0.5, 0.5], [1.0, 0.0]])
CE = [-(0.5 * math.log(0.25) + 0.5 * math.log(0.75)), -math.log(0.5)]  # 0.836988, 0.693147


def test_per_example_soft_cross_entropy_by_hand() -> None:
    torch.testing.assert_close(per_example_cross_entropy(LOGITS, TARGETS), torch.tensor(CE))


def test_unweighted_is_the_mean() -> None:
    torch.testing.assert_close(soft_cross_entropy(LOGITS, TARGETS), torch.tensor(sum(CE) / 2))


def test_weighted_items_are_scaled_by_n_w_and_batches_take_the_plain_mean() -> None:
    scales = example_loss_scales(torch.tensor([0.75, 0.25]))  # N w_i with N = 2
    torch.testing.assert_close(scales, torch.tensor([1.5, 0.5]))
    expected = (1.5 * CE[0] + 0.5 * CE[1]) / 2
    torch.testing.assert_close(soft_cross_entropy(LOGITS, TARGETS, scales), torch.tensor(expected))
    # Scaling the weights does not change the scales: only their shares matter.
    torch.testing.assert_close(example_loss_scales(torch.tensor([0.75, 0.25]) * 1e-4), scales)


def test_all_zero_scales_give_zero_not_nan() -> None:
    assert soft_cross_entropy(LOGITS, TARGETS, torch.zeros(2)).item() == 0.0


@pytest.mark.parametrize("batch_size", [1, 2, 4, 8])
def test_misclassified_items_carry_half_the_objective_after_an_adaboost_update(batch_size: int) -> None:
    # 8 easy items, items 0 and 1 misclassified: eps = 0.25, alpha = ln 3, and after the update the
    # misclassified items hold half the weight. Whatever the batches, one epoch of the training loss
    # must give them half of it too (equal per-item losses isolate the weighting).
    errors = np.array([1, 1, 0, 0, 0, 0, 0, 0], dtype=float)
    weights = update_weights(np.full(8, 1 / 8), errors, samme_alpha(0.25, 2).alpha or 0.0)
    assert weights[:2].sum() == pytest.approx(0.5)
    scales = example_loss_scales(torch.tensor(weights))
    losses = torch.full((8,), 0.7)
    order = torch.from_numpy(np.random.default_rng(batch_size).permutation(8))
    wrong = right = 0.0
    for batch in torch.split(order, batch_size):
        contribution = scales[batch] * losses[batch] / len(batch)  # what scaled_batch_loss sums
        torch.testing.assert_close(contribution.sum(), scaled_batch_loss(losses[batch], scales[batch], len(batch)))
        wrong += float(contribution[batch < 2].sum())
        right += float(contribution[batch >= 2].sum())
    assert wrong / (wrong + right) == pytest.approx(0.5)
    # The epoch's summed batch losses estimate the global objective sum_i w_i CE_i (times N / |B|).
    objective = float((torch.tensor(weights) * losses).sum())
    assert (wrong + right) == pytest.approx(objective * 8 / batch_size)


def test_normalising_within_a_batch_would_dilute_the_misclassified_items() -> None:
    # The old rule, sum w CE / sum w per batch, on batches {0, 1, 2, 3} and {4, 5, 6, 7}: the second
    # batch (all correct) counts as much as the first, and the misclassified items get 3/8, not 1/2.
    errors = np.array([1, 1, 0, 0, 0, 0, 0, 0], dtype=float)
    weights = torch.tensor(update_weights(np.full(8, 1 / 8), errors, samme_alpha(0.25, 2).alpha or 0.0))
    first = weights[:4] / weights[:4].sum()
    assert float(first[:2].sum()) / 2 == pytest.approx(0.375)
    scales = example_loss_scales(weights)
    batches = [scaled_batch_loss(torch.ones(4), scales[i : i + 4], 4) for i in (0, 4)]
    assert float(scaled_batch_loss(torch.ones(2), scales[:2], 4)) / float(sum(batches)) == pytest.approx(0.5)


@pytest.mark.parametrize(("step", "expected"), [(0, 0.0), (5, 0.25), (10, 0.5), (11, 0.5), (100, 0.5)])
def test_logconf_alpha_ramps_linearly_over_the_warmup(step: int, expected: float) -> None:
    assert logconf_alpha(step, 100, max_alpha=0.5, warmup_frac=0.1) == pytest.approx(expected)


def test_logconf_alpha_without_warmup_is_constant() -> None:
    assert logconf_alpha(0, 100, max_alpha=0.5, warmup_frac=0.0) == 0.5


def test_binary_hardening_follows_the_weak_label_share() -> None:
    probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.4, 0.6], [0.2, 0.8]])
    # weak labels put 1/4 of the mass on class 1: only the most class-1-like example is hardened to 1.
    weak = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.5, 0.5], [0.5, 0.5]])
    hardened = harden_predictions(probs, weak)
    assert hardened.argmax(dim=1).tolist() == [0, 0, 0, 1]
    # half the mass on class 1: the two most class-1-like.
    weak_half = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert harden_predictions(probs, weak_half).argmax(dim=1).tolist() == [0, 0, 1, 1]


def test_multiclass_hardening_is_the_argmax() -> None:
    probs = torch.tensor([[0.2, 0.5, 0.3], [0.7, 0.2, 0.1]])
    hardened = harden_predictions(probs, torch.full((2, 3), 1 / 3))
    assert hardened.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]


def test_logconf_targets_and_loss_by_hand() -> None:
    logits = torch.log(torch.tensor([[0.9, 0.1], [0.2, 0.8]]))
    weak = torch.tensor([[0.6, 0.4], [0.6, 0.4]])  # class-1 share 0.4 -> quantile of p0 at 0.4 = 0.48
    targets = logconf_targets(logits, weak, alpha=0.5)
    torch.testing.assert_close(targets, torch.tensor([[0.8, 0.2], [0.3, 0.7]]))
    expected = (-(0.8 * math.log(0.9) + 0.2 * math.log(0.1)) - (0.3 * math.log(0.2) + 0.7 * math.log(0.8))) / 2
    torch.testing.assert_close(logconf_loss(logits, weak, alpha=0.5), torch.tensor(expected))


def test_logconf_with_zero_alpha_is_plain_cross_entropy() -> None:
    torch.testing.assert_close(logconf_loss(LOGITS, TARGETS, alpha=0.0), soft_cross_entropy(LOGITS, TARGETS))


def test_no_gradient_flows_through_the_hardened_target() -> None:
    logits = LOGITS.clone().requires_grad_(True)
    assert not logconf_targets(logits, TARGETS, alpha=0.5).requires_grad
