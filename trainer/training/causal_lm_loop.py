"""``train_causal_lm``: fine-tune a causal LM on question-answer pairs with token-weighted NLL.

The objective of a token-boosting round, sum w_ij NLL_ij / sum w_ij over the answer tokens, through the
unbiased per-batch estimate of the classification loop: each answer token's NLL is scaled by
s_ij = N w_ij / sum(w) (`token_loss_scales`, N questions) and a micro-batch's loss is
sum s_ij NLL_ij / share (`scaled_token_nll`), ``share`` as in `.loop`. No weights means uniform token
weights: the mean NLL over all answer tokens. The prompt is never a target.

The loop (batch plan over questions, accumulation, clipping, checkpoints and resume, progress) is
`.loop.run_training`, shared with ``train_classifier``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from accelerate import Accelerator
from torch import Tensor, nn
from torch.utils.data import Dataset
from transformers import PreTrainedModel

from ..method.token_boosting import token_loss_scales
from ..method.token_errors import scaled_token_nll
from .answer_encoding import EncodedAnswers
from .batching import BatchPlan, MicroBatch
from .config import TrainConfig
from .loop import ProgressEvent, TrainReport, run_training, with_stage_accelerator
from .validation import answers_fingerprint, check_answer_inputs


class AnswerBatch(NamedTuple):
    """What one forward/backward pass of a causal LM sees (accelerate moves the tensors to the device)."""

    input_ids: Tensor  # (B, L) int64, right-padded: prompt, answer, EOS
    attention_mask: Tensor  # (B, L) int64
    answer_mask: Tensor  # (B, L) bool, True on answer tokens (never position 0)
    scales: Tensor  # (B, L) float32 token loss scales on the answer tokens, 0 elsewhere and on a filler
    step_size: int  # questions in the whole optimiser step, over all processes
    filler: bool


class AnswerExamples(Dataset[AnswerBatch]):
    """Encoded question-answer pairs and their flat token loss scales, fetched a micro-batch at a time."""

    def __init__(self, answers: EncodedAnswers, scales: Tensor) -> None:
        self.answers, self.scales = answers, scales
        layout = answers.answers
        # flat index of sequence i's position k (on its answer): starts[i] + k
        self.starts = torch.from_numpy(layout.offsets[:-1]) - answers.prompt_lengths

    def __len__(self) -> int:
        return len(self.answers)

    def __getitem__(self, index: int) -> AnswerBatch:
        return self.__getitems__(MicroBatch(np.array([index], dtype=np.int64), 1, False))

    def __getitems__(self, micro: MicroBatch) -> AnswerBatch:
        indices = torch.from_numpy(micro.examples)
        tokens = self.answers.sequences.batch(indices)
        width = tokens.input_ids.shape[1]
        answer = self.answers.answer_mask(indices, width)
        gather = (self.starts[indices][:, None] + torch.arange(width)[None, :]).clamp_(0, self.scales.shape[0] - 1)
        scales = self.scales[gather] * answer
        if micro.filler:
            scales = torch.zeros_like(scales)
        return AnswerBatch(tokens.input_ids, tokens.attention_mask, answer, scales, micro.step_size, micro.filler)


@dataclass(frozen=True)
class _TokenNLLObjective:
    examples: AnswerExamples

    def loss(self, model: nn.Module, batch: AnswerBatch, step: int, total_steps: int, share: float) -> Tensor:
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False).logits
        return scaled_token_nll(logits, batch.input_ids, batch.scales, batch.answer_mask, share)

    def counted_tokens(self, batch: AnswerBatch) -> Tensor:
        return batch.attention_mask.sum() * int(not batch.filler)


def train_causal_lm(
    model: PreTrainedModel,
    answers: EncodedAnswers,
    config: TrainConfig,
    token_weights: np.ndarray | None = None,
    checkpoint_dir: Path | str | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    *,
    accelerator: Accelerator | None = None,
) -> TrainReport:
    """Fine-tune ``model`` (a causal LM or a peft model around one) on ``answers`` in place; eval mode after.

    ``token_weights``: one per answer token, flat in `EncodedAnswers.answers` order (None: uniform).
    ``config.loss`` must be xent and ``sample_weighting`` weighted_loss or None (either way the weights
    enter the loss). Checkpoints and resume, the accelerator and ``on_progress``: as ``train_classifier``.
    """
    weights = None if token_weights is None else np.asarray(token_weights, dtype=np.float64)
    check_answer_inputs(answers, config, weights)

    def train(accelerator: Accelerator, directory: Path | None) -> TrainReport:
        torch.manual_seed(config.seed)
        layout = answers.answers
        plan = BatchPlan(
            np.arange(len(answers)),
            answers.sequences.lengths.numpy(),
            config.batch_size,
            config.epochs,
            config.seed,
            config.group_by_length,
        )
        flat = layout.uniform_weights() if weights is None else weights
        scales = torch.from_numpy(token_loss_scales(flat, layout)).to(torch.float32)
        fingerprint = answers_fingerprint(answers, config, weights, plan.total_steps, accelerator.num_processes)
        objective = _TokenNLLObjective(AnswerExamples(answers, scales))
        return run_training(accelerator, model, objective, plan, config, fingerprint, directory, on_progress)

    return with_stage_accelerator(config, accelerator, checkpoint_dir, train)
