"""The training ``DataLoader``: the batch plan's micro-batches, materialised as padded tensors.

The texts stay tokenised once (:class:`~.encoding.EncodedTexts`); a micro-batch is gathered and padded to
its own longest example in one vectorised call (``__getitems__``), no per-example Python objects. The
loader's batch sampler is the deterministic :class:`~.batching.PlanSampler`, so accelerate's ``prepare``
shards it across processes and ``skip_first_batches`` resumes it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from .batching import MicroBatch, PlanSampler
from .encoding import EncodedTexts


class TrainingBatch(NamedTuple):
    """What one forward/backward pass sees (accelerate moves the tensors to the device)."""

    input_ids: Tensor  # (B, L) int64, right-padded
    attention_mask: Tensor  # (B, L) int64
    targets: Tensor  # (B, K) float32 soft labels
    scales: Tensor  # (B,) float32 per-example loss scales (1, N w_i / sum(w), or 0 for a filler)
    step_size: int  # examples in the whole optimiser step, over all processes


class TrainingExamples(Dataset[TrainingBatch]):
    """Encoded texts with their soft targets and loss scales, fetched a micro-batch at a time."""

    def __init__(self, encoded: EncodedTexts, targets: Tensor, scales: Tensor | None) -> None:
        self.encoded, self.targets = encoded, targets
        self.scales = scales if scales is not None else torch.ones(len(encoded), dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.encoded)

    def __getitem__(self, index: int) -> TrainingBatch:
        return self.__getitems__(MicroBatch(np.array([index], dtype=np.int64), 1, False))

    def __getitems__(self, micro: MicroBatch) -> TrainingBatch:
        """The DataLoader's fetch of one batch-sampler item (called instead of ``__getitem__`` per example)."""
        indices = torch.from_numpy(micro.examples)
        tokens = self.encoded.batch(indices)
        scales = torch.zeros(len(indices)) if micro.filler else self.scales[indices]
        return TrainingBatch(tokens.input_ids, tokens.attention_mask, self.targets[indices], scales, micro.step_size)


def _as_is(batch: Any) -> Any:
    """The collate step: ``__getitems__`` already built the batch (torch types it as a list of items)."""
    return batch


def plan_loader(examples: Dataset[Any], sampler: PlanSampler) -> DataLoader[Any]:
    """A DataLoader over ``examples`` (a dataset whose ``__getitems__`` takes a `MicroBatch`) in the plan's
    order (in-process: fetching is a gather and a pad)."""
    return DataLoader(
        examples,
        batch_sampler=sampler,  # type: ignore[arg-type]  # yields MicroBatch keys, which __getitems__ takes
        collate_fn=_as_is,
        num_workers=0,
        # Its own generator: starting an iterator draws a seed from it, and a draw from the global RNG
        # would shift a resumed run's dropout masks off the uninterrupted run's.
        generator=torch.Generator(),
    )
