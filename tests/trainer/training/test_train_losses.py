from __future__ import annotations

import math

import pytest
import torch
from ensemw2s.trainer.training import (
    harden_predictions,
    logconf_alpha,
    logconf_loss,
    logconf_targets,
    per_example_cross_entropy,
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


def test_weighted_is_normalised_by_the_weight_sum() -> None:
    weights = torch.tensor([3.0, 1.0])
    expected = (3 * CE[0] + 1 * CE[1]) / 4
    torch.testing.assert_close(soft_cross_entropy(LOGITS, TARGETS, weights), torch.tensor(expected))
    torch.testing.assert_close(soft_cross_entropy(LOGITS, TARGETS, weights * 1e-4), torch.tensor(expected))


def test_all_zero_weights_give_zero_not_nan() -> None:
    assert soft_cross_entropy(LOGITS, TARGETS, torch.zeros(2)).item() == 0.0


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
