"""The torch side of token boosting: a causal LM's token errors and the token-weighted NLL loss.

Kept out of `token_boosting` (and out of the package's ``__init__``) so the method's math still
imports without torch. Every function takes the batch as a causal LM sees it: ``logits`` (B, L, V)
from the model on ``labels`` (B, L), the input ids themselves, and ``mask`` (B, L), True on answer
tokens only. The logits at position k predict token k + 1, so position 0 is never a target: the
mask must be False there (it is a prompt token), and a mask that says otherwise is refused rather
than silently shifted.

The answer tokens come out flat, in row-major order of the mask's True cells: the order of
`AnswerTokens.flatten`, so per-token results line up with the flat token weights.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from ensemw2s.trainer.method.errors import MethodError
from ensemw2s.trainer.method.token_boosting import token_errors
from torch import Tensor

NO_PREDICTION = -1
"""The predicted id `aligned_predictions` puts at position 0, which no logits predict."""


def aligned_predictions(logits: Tensor) -> npt.NDArray[np.int64]:
    """(B, L) predicted ids aligned with the labels: out[:, k] = argmax logits[:, k - 1], out[:, 0] = -1.

    The argmax runs where the logits are; only the (B, L) ids come back to the host.
    """
    _logits_shape(logits)
    predicted = torch.full(logits.shape[:2], NO_PREDICTION, dtype=torch.int64, device=logits.device)
    predicted[:, 1:] = logits[:, :-1].argmax(dim=-1)
    ids: npt.NDArray[np.int64] = predicted.cpu().numpy()
    return ids


def logits_token_errors(logits: Tensor, labels: Tensor, mask: Tensor) -> npt.NDArray[np.bool_]:
    """e_ij = 1[argmax of the logits before answer token j != token j], flat over the answer tokens."""
    _check_batch(logits, labels, mask)
    return token_errors(aligned_predictions(logits), labels.cpu().numpy(), mask.cpu().numpy())


def per_token_nll(logits: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
    """NLL_ij = -log softmax(logits[i, k - 1])[labels[i, k]] at the answer tokens, flat, in float32.

    Only the answer positions' logits are cast to float32, so a bf16 (B, L, V) batch is never copied whole.
    """
    _check_batch(logits, labels, mask)
    return _answer_nll(logits, labels, mask)


def token_weighted_nll(logits: Tensor, labels: Tensor, weights: Tensor, mask: Tensor) -> Tensor:
    """sum w_ij NLL_ij / sum w_ij over the batch's answer tokens (the design's per-round loss).

    ``weights`` is (B, L), aligned with ``labels`` (`AnswerTokens.padded` builds it); off-mask cells are
    ignored. A batch whose answer tokens all weigh 0 gives 0, not NaN.
    """
    _check_batch(logits, labels, mask, ("weights", weights))
    w = weights[:, 1:][mask[:, 1:]].float()
    total = (w * _answer_nll(logits, labels, mask)).sum()
    return total / w.sum().clamp_min(torch.finfo(torch.float32).tiny)


def scaled_token_nll(logits: Tensor, labels: Tensor, scales: Tensor, mask: Tensor, batch_size: float) -> Tensor:
    """(1/batch_size) sum s_ij NLL_ij over the batch's answer tokens: the unbiased batch estimate.

    ``scales`` are `token_loss_scales` placed on the batch (`AnswerTokens.padded`); ``batch_size`` is the
    number of questions in the global batch (this process's share of the sum, the whole batch's count),
    as classification's `scaled_batch_loss` divides by items.
    """
    if not batch_size > 0:
        raise MethodError(f"batch_size: must be > 0 questions (got {batch_size}); pass the global batch size")
    _check_batch(logits, labels, mask, ("scales", scales))
    s = scales[:, 1:][mask[:, 1:]].float()
    return (s * _answer_nll(logits, labels, mask)).sum() / batch_size


def _answer_nll(logits: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
    targets = mask[:, 1:]
    return F.cross_entropy(logits[:, :-1][targets].float(), labels[:, 1:][targets].long(), reduction="none")


def _logits_shape(logits: Tensor) -> None:
    if logits.dim() != 3 or logits.shape[1] < 1:
        raise MethodError(
            f"logits: must be (B, L, V) with L >= 1 (got shape {tuple(logits.shape)}); pass the causal LM's logits"
        )


def _check_batch(logits: Tensor, labels: Tensor, mask: Tensor, weights: tuple[str, Tensor] | None = None) -> None:
    """Shapes and dtypes, then the values in one device round trip (one per step, not one per check)."""
    _logits_shape(logits)
    named = [("labels", labels), ("mask", mask)] + ([weights] if weights else [])
    for name, tensor in named:
        if tuple(tensor.shape) != tuple(logits.shape[:2]):
            raise MethodError(
                f"{name}: must be (B, L) = {tuple(logits.shape[:2])} like the logits (got {tuple(tensor.shape)}); "
                "pass the batch the logits came from (AnswerTokens.padded places token weights on it)"
            )
    if mask.dtype != torch.bool:
        raise MethodError(f"mask: must be boolean (got {mask.dtype}); True on answer tokens only")
    if labels.dtype not in (torch.int64, torch.int32):
        raise MethodError(f"labels: must be integer token ids (got {labels.dtype}); pass the input ids")
    flags = [mask[:, 0].any()]
    if weights:
        answer_weights = weights[1][:, 1:][mask[:, 1:]]
        flags.append((~((answer_weights >= 0) & torch.isfinite(answer_weights))).any())
    found: list[bool] = torch.stack(flags).tolist()
    if found[0]:
        raise MethodError(
            "mask: must be False at position 0, which no logits predict (got True); "
            "the first token is a prompt token, mask it out"
        )
    if weights and found[1]:
        raise MethodError(
            f"{weights[0]}: must be finite and >= 0 on the answer tokens (got a negative or non-finite one); "
            "build them with token_loss_scales or AnswerTokens.padded of the round's weights"
        )
