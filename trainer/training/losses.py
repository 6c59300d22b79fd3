"""Losses: soft-target cross-entropy (optionally example-weighted) and the auxiliary confidence loss.

Weighted mode optimises AdaBoost's global objective sum_i w_i CE_i over the N training items with an
unbiased per-batch estimate: each item's loss is scaled by s_i = N w_i / sum(w) (mean 1) and the batch
takes the plain mean, (1/|B|) sum_{i in B} s_i CE_i. Normalising within each batch instead
(sum w CE / sum w over the batch) dilutes the misclassified items' share of the objective far below
AdaBoost's 1/2 after an update.

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


def example_loss_scales(sample_weights: Tensor) -> Tensor:
    """s_i = N w_i / sum(w): per-item loss scales with mean 1, so a batch mean estimates sum_i w_i CE_i (x N)."""
    weights = sample_weights.float()
    return weights * (weights.numel() / weights.sum().clamp_min(torch.finfo(torch.float32).tiny))


def scaled_batch_loss(losses: Tensor, scales: Tensor | None, batch_size: float) -> Tensor:
    """(1/batch_size) sum_i s_i CE_i over the given items (all of a batch, or one process's share of it)."""
    total = losses.sum() if scales is None else (scales.float() * losses).sum()
    return total / batch_size


def soft_cross_entropy(logits: Tensor, targets: Tensor, scales: Tensor | None = None) -> Tensor:
    """Mean soft-target CE over the batch, each item scaled by ``scales`` (see `example_loss_scales`)."""
    return scaled_batch_loss(per_example_cross_entropy(logits, targets), scales, logits.shape[0])


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


def logconf_loss(logits: Tensor, weak_targets: Tensor, alpha: float, scales: Tensor | None = None) -> Tensor:
    """Soft CE against the logconf targets."""
    return soft_cross_entropy(logits, logconf_targets(logits, weak_targets, alpha), scales)
