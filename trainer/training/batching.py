"""Which examples each optimiser step sees: a deterministic plan, so a resumed run sees the same batches.

Every epoch's order is a pure function of (seed, epoch); resampling (AdaBoost's ``resample`` mode) is
a pure function of the seed. Nothing here keeps RNG state, so resuming at step k only means
skipping the first k batches of the plan.

With ``group_by_length``, each epoch's permutation is cut into mega-batches of ``MEGABATCH_BATCHES``
batches, each sorted by length (longest first) and cut into batches; the batch order is then
shuffled. Batches hold similar lengths (little padding) while their composition stays random.

:class:`PlanSampler` deals the plan out as the batch sampler of the training ``DataLoader``: each
optimiser step's batch (the global batch, whatever the number of processes) becomes
``processes x accumulation`` micro-batches, ordered so that accelerate's sharding of a prepared loader
(process r takes every processes-th batch) hands each process its own ``accumulation`` micro-batches.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

MEGABATCH_BATCHES = 32
_RESAMPLE_STREAM = 1
_EPOCH_STREAM = 2


def resample_indices(sample_weights: np.ndarray, seed: int) -> np.ndarray:
    """N indices drawn with replacement with p = w / sum(w)."""
    rng = np.random.default_rng([seed, _RESAMPLE_STREAM])
    probabilities = sample_weights.astype(np.float64) / float(sample_weights.sum())
    return rng.choice(len(sample_weights), size=len(sample_weights), replace=True, p=probabilities)


def epoch_batches(
    pool: np.ndarray, lengths: np.ndarray, batch_size: int, seed: int, epoch: int, group_by_length: bool
) -> list[np.ndarray]:
    """One epoch over ``pool`` (example indices, repeats allowed), cut into batches."""
    rng = np.random.default_rng([seed, _EPOCH_STREAM, epoch])
    order = pool[rng.permutation(len(pool))]
    if not group_by_length:
        return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    batches: list[np.ndarray] = []
    chunk = batch_size * MEGABATCH_BATCHES
    for start in range(0, len(order), chunk):
        mega = order[start : start + chunk]
        mega = mega[np.argsort(-lengths[mega], kind="stable")]
        batches.extend(mega[offset : offset + batch_size] for offset in range(0, len(mega), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


@dataclass(frozen=True)
class BatchPlan:
    """All optimiser batches of one run: ``total_steps`` batches over ``epochs`` passes of the pool."""

    pool: np.ndarray
    lengths: np.ndarray
    batch_size: int
    epochs: float
    seed: int
    group_by_length: bool

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.pool) / self.batch_size)

    @property
    def total_steps(self) -> int:
        return max(1, math.ceil(self.epochs * self.steps_per_epoch - 1e-9))

    def batches(self, start_step: int = 0) -> Iterator[Tensor]:
        """Index tensors of steps ``start_step`` .. ``total_steps - 1``."""
        step, epoch = start_step, start_step // self.steps_per_epoch
        while step < self.total_steps:
            batches = epoch_batches(self.pool, self.lengths, self.batch_size, self.seed, epoch, self.group_by_length)
            for batch in batches[step - epoch * self.steps_per_epoch :]:
                if step >= self.total_steps:
                    return
                yield torch.from_numpy(batch.astype(np.int64))
                step += 1
            epoch += 1


class MicroBatch(NamedTuple):
    """One process's share of one accumulation round of an optimiser step."""

    examples: np.ndarray  # example indices (int64); a filler holds example 0 and trains nothing
    step_size: int  # examples in the whole optimiser step, over all processes and micro-batches
    filler: bool  # True when the step has fewer examples than micro-batches: keeps processes in lockstep


def step_micro_batches(batch: np.ndarray, processes: int, accumulation: int) -> list[MicroBatch]:
    """One step's micro-batches in dealing order: ``accumulation`` rounds of one per process.

    Process r's share is ``batch[r::processes]``, cut into ``accumulation`` near-equal pieces (one
    process: ``accumulation`` equal pieces of a full batch, in order). A piece left empty (a short last
    batch) becomes a filler, so every process runs exactly ``accumulation`` forward/backward passes.
    """
    shares = [np.array_split(batch[rank::processes], accumulation) for rank in range(processes)]
    dealt: list[MicroBatch] = []
    for round_ in range(accumulation):
        for rank in range(processes):
            piece = shares[rank][round_]
            if len(piece):
                dealt.append(MicroBatch(piece.astype(np.int64), len(batch), False))
            else:
                dealt.append(MicroBatch(np.zeros(1, dtype=np.int64), len(batch), True))
    return dealt


class PlanSampler:
    """The plan as a DataLoader batch sampler: every step's micro-batches, for all processes, in order.

    Resuming at step k skips the first ``k * processes * accumulation`` items (accelerate's
    ``skip_first_batches`` on the prepared loader skips ``k * accumulation`` of one process's).
    """

    def __init__(self, plan: BatchPlan, processes: int, accumulation: int) -> None:
        self.plan, self.processes, self.accumulation = plan, processes, accumulation

    def __len__(self) -> int:
        return self.plan.total_steps * self.processes * self.accumulation

    def __iter__(self) -> Iterator[MicroBatch]:
        for batch in self.plan.batches():
            yield from step_micro_batches(batch.numpy(), self.processes, self.accumulation)
