from __future__ import annotations

import numpy as np
import pytest
import torch
from ensemw2s.trainer.training import TrainingError, predict_proba


@pytest.mark.parametrize("model", ["tiny-weak", "tiny-strong"])
def test_batched_equals_one_at_a_time(model: str, task_factory) -> None:
    task = task_factory(count=40, model=model)
    classifier = task.loaded.model
    if hasattr(classifier, "score"):
        torch.nn.init.normal_(classifier.score.weight)
    batched = predict_proba(classifier, task.encoded, batch_size=16)
    single = np.concatenate([predict_proba(classifier, task.encoded.subset([i]), 1) for i in range(40)])
    assert batched.shape == (40, 2) and batched.dtype == np.float32
    np.testing.assert_allclose(batched, single, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, rtol=1e-5)
    assert classifier.training  # the caller's mode is restored


def test_batch_size_must_be_positive(task) -> None:
    with pytest.raises(TrainingError, match=r"batch_size: must be >= 1 \(got 0\)"):
        predict_proba(task.loaded.model, task.encoded, 0)
