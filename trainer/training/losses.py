"""Losses: soft-target cross-entropy (optionally example-weighted) and the auxiliary confidence loss.

Weighted mode follows the method page: loss = sum_i w_i CE_i / sum_i w_i over the batch (the
authors intended this; their code multiplied by a hard-coded dataset size instead).

``logconf`` is the auxiliary confidence loss of Burns et al. (2023): the target mixes the weak soft
label with the student's own hardened prediction, target = (1 - a) * weak + a * hard(strong). We ramp
``a`` linearly from 0 to ``max_alpha`` over the first ``warmup_frac`` of steps, as the method page
states (the original code ramped ``a = step_frac`` and then jumped to ``max_alpha``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def per_example_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """CE_i = -sum_k t_ik log softmax(z_i)_k, in float32, shape (B,)."""
    log_probs = F.log_softmax(logits.float(), dim=-1)
    return -(targets.float() * log_probs).sum(dim=-1)


def soft_cross_entropy(logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
    """Mean soft-target CE, or sum_i w_i CE_i / sum_i w_i when ``weights`` are given."""
    losses = per_example_cross_entropy(logits, targets)
    if weights is None:
        return losses.mean()
    weights = weights.float()
    return (weights * losses).sum() / weights.sum().clamp_min(torch.finfo(torch.float32).tiny)


def logconf_alpha(step: int, total_steps: int, max_alpha: float, warmup_frac: float) -> float:
    """Weight of the hardened prediction at ``step``: linear from 0 to ``max_alpha``, then constant."""
    if warmup_frac <= 0 or total_steps <= 0:
        return max_alpha
    progress = step / (warmup_frac * total_steps)
    return max_alpha * min(1.0, progress)


def harden_predictions(probs: Tensor, weak_targets: Tensor) -> Tensor:
    """One-hot hardened student predictions.

    Binary: class 1 for the share of the batch equal to the weak labels' mean class-1 share, chosen by
    a batch-quantile threshold on p(class 0) as in Burns et al. (p0 >= quantile(p0, share) -> class 0).
    K > 2: the argmax.
    """
    num_classes = probs.shape[-1]
    if num_classes == 2:
        share = weak_targets[:, 1].float().mean().clamp(0.0, 1.0)
        threshold = torch.quantile(probs[:, 0].float(), share)
        class_one = (probs[:, 0] < threshold).long()
        return F.one_hot(class_one, 2).to(probs.dtype)
    return F.one_hot(probs.argmax(dim=-1), num_classes).to(probs.dtype)


def logconf_targets(logits: Tensor, weak_targets: Tensor, alpha: float) -> Tensor:
    """(1 - alpha) * weak + alpha * hardened student prediction (no gradient through the latter)."""
    probs = torch.softmax(logits.detach().float(), dim=-1)
    hardened = harden_predictions(probs, weak_targets)
    return (1.0 - alpha) * weak_targets.float() + alpha * hardened


def logconf_loss(logits: Tensor, weak_targets: Tensor, alpha: float, weights: Tensor | None = None) -> Tensor:
    """Soft CE against the logconf targets."""
    return soft_cross_entropy(logits, logconf_targets(logits, weak_targets, alpha), weights)
