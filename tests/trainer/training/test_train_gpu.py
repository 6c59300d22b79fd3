"""On a CUDA device: bf16 autocast training through accelerate, inference on the device (pytest -m gpu)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ensemw2s.trainer.training import TrainConfig, predict_proba, resolve_mixed_precision, train_classifier

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_trains_on_the_gpu_in_bf16_and_predicts_there(task) -> None:
    config = TrainConfig(epochs=10, batch_size=16, lr=2e-3, max_length=32, seed=11)
    assert resolve_mixed_precision(config.mixed_precision) in ("bf16", "no")
    train_classifier(task.loaded.model, task.encoded, task.targets, config)
    model = task.loaded.model
    assert model.device.type == "cuda" and next(model.parameters()).dtype == torch.float32
    probabilities = predict_proba(model, task.encoded, 64)
    assert probabilities.shape == (len(task.texts), 2)
    assert np.mean(probabilities.argmax(axis=1) == task.labels) >= 0.85
    bf16 = predict_proba(model, task.encoded, 64, autocast_dtype=torch.bfloat16)
    np.testing.assert_allclose(bf16, probabilities, atol=0.05)
