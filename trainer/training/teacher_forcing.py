"""``teacher_forced``: a causal LM's answer-token errors and gold-token probabilities under teacher forcing.

Token boosting measures a round's learner on the questions it trained on: at each answer token the
model reads the gold prefix, and the token counts as an error when its argmax is not the gold token
(`logits_token_errors`). The gold token's probability comes with it (exp(-NLL), `per_token_nll`).
Batched (sorted by length, so a batch pads little), eval mode, no autograd; results come back flat in
`EncodedAnswers.answers` order, whatever the batching.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from transformers import PreTrainedModel

from ..method.token_errors import logits_token_errors, per_token_nll
from .answer_encoding import EncodedAnswers
from .errors import TrainingError


@dataclass(frozen=True)
class TeacherForced:
    errors: np.ndarray
    """Flat bool, one per answer token: argmax != gold."""
    gold_probabilities: np.ndarray
    """Flat float64, one per answer token: p(gold token | gold prefix)."""


def teacher_forced(model: PreTrainedModel, answers: EncodedAnswers, batch_size: int) -> TeacherForced:
    """Every answer token's error and gold probability; the model's training flag comes back after."""
    if batch_size < 1:
        raise TrainingError("batch_size", "must be >= 1", batch_size, "use the eval batch size, e.g. 64")
    device = next(model.parameters()).device
    layout = answers.answers
    errors = np.zeros(layout.num_tokens, dtype=bool)
    probabilities = np.zeros(layout.num_tokens, dtype=np.float64)
    order = torch.argsort(answers.sequences.lengths, descending=True, stable=True)
    was_training = model.training
    model.train(False)
    try:
        with torch.inference_mode():
            for indices in torch.split(order, batch_size):
                batch = answers.sequences.batch(indices)
                mask = answers.answer_mask(indices, batch.input_ids.shape[1])
                input_ids = batch.input_ids.to(device)
                logits = model(
                    input_ids=input_ids, attention_mask=batch.attention_mask.to(device), use_cache=False
                ).logits
                mask = mask.to(device)
                batch_errors = logits_token_errors(logits, input_ids, mask)
                batch_probabilities = torch.exp(-per_token_nll(logits, input_ids, mask).double()).cpu().numpy()
                # the batch's tokens come flat in row order: scatter each row's run to its question's slots
                slots = layout.positions(indices.numpy())
                errors[slots] = batch_errors
                probabilities[slots] = batch_probabilities
    finally:
        model.train(was_training)
    return TeacherForced(errors, probabilities)
