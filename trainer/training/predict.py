"""Batched inference: class probabilities for every encoded text, in the original order.

Examples are sorted by length so each batch pads little; results are scattered back to the input
order. Runs under ``torch.inference_mode`` on the classifier's device, softmax in float32.
"""

from __future__ import annotations

import numpy as np
import torch

from ..models.classifier import Classifier
from .encoding import EncodedTexts
from .errors import TrainingError


def predict_proba(
    classifier: Classifier,
    encoded: EncodedTexts,
    batch_size: int,
    *,
    autocast_dtype: torch.dtype | None = None,
) -> np.ndarray:
    """Probabilities (N, K), float32. ``autocast_dtype`` (e.g. torch.bfloat16) runs the forward in it."""
    if batch_size < 1:
        raise TrainingError("batch_size", "must be >= 1", batch_size, "use the eval batch size, e.g. 128")
    device = classifier.device
    order = torch.argsort(encoded.lengths, descending=True, stable=True)
    probabilities = torch.empty((len(encoded), classifier.num_labels), dtype=torch.float32)
    was_training = classifier.training
    classifier.eval()
    autocast = torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None)
    try:
        with torch.inference_mode(), autocast:
            for indices in torch.split(order, batch_size):
                batch = encoded.batch(indices)
                logits = classifier(batch.input_ids.to(device), batch.attention_mask.to(device))
                probabilities[indices] = torch.softmax(logits.float(), dim=-1).cpu()
    finally:
        classifier.train(was_training)
    return probabilities.numpy()
