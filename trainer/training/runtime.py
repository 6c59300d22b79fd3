"""The process-level setup of a run: CPU threads, mixed precision and the stage's ``accelerate.Accelerator``.

accelerate keeps one process-wide state (device, process group, mixed precision) that the first
``Accelerator`` sets and no later one may change; an ``Accelerator`` object itself is a cheap handle on
that state plus the objects one training run prepared. So a stage makes one Accelerator
(:func:`stage_accelerator`) and every training run of the stage (a weak learner and its fold models,
or one student) prepares its objects on it and releases them when it ends. One process trains under
one precision: the spec has one ``runtime.mixedPrecision`` for all stages, so ``w2sctl run`` (every
stage in one process) never asks for two; a second precision in one process is refused by name.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.state import AcceleratorState, is_initialized
from ensemw2s.spec import MixedPrecision

from .config import TrainConfig
from .errors import TrainingError

CGROUP_V2_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
LOCAL_PROCESSES_ENV = "LOCAL_WORLD_SIZE"
"""Set by torchrun (and ``accelerate launch``): the processes of this run on this node."""
PROCESSES_ENV = "WORLD_SIZE"
"""Set by torchrun: the processes of this run on all nodes."""


def _cgroup_cpu_limit() -> int | None:
    """The container's CPU limit (CFS quota / period, rounded up), if one is set."""
    try:
        if CGROUP_V2_CPU_MAX.is_file():
            quota, period = CGROUP_V2_CPU_MAX.read_text().split()[:2]
            return None if quota == "max" else max(1, math.ceil(int(quota) / int(period)))
        if CGROUP_V1_QUOTA.is_file() and CGROUP_V1_PERIOD.is_file():
            quota_us = int(CGROUP_V1_QUOTA.read_text())
            return None if quota_us <= 0 else max(1, math.ceil(quota_us / int(CGROUP_V1_PERIOD.read_text())))
    except (OSError, ValueError):
        return None
    return None


def available_cpus() -> int:
    """Cores this process may use: os.cpu_count(), narrowed by CPU affinity and the cgroup limit, shared
    among the run's processes on this node (``LOCAL_WORLD_SIZE``).

    In a Kubernetes pod os.cpu_count() is the node's core count; a 2-CPU limit with 64 threads
    oversubscribes the quota and runs many times slower than with 2. Two ranks on 2 cores get 1 each.
    """
    count = os.cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        count = min(count, len(os.sched_getaffinity(0)))
    limit = _cgroup_cpu_limit()
    if limit is not None:
        count = min(count, limit)
    try:
        local_processes = max(1, int(os.environ.get(LOCAL_PROCESSES_ENV, "1")))
    except ValueError:
        local_processes = 1
    return max(1, count // local_processes)


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op CPU threads (None = :func:`available_cpus`); returns the number set.

    The one thread-count rule of the trainer: ``ensemw2s.trainer.runtime.configure_runtime`` uses it too.
    """
    count = threads if threads is not None else available_cpus()
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count


def resolve_mixed_precision(requested: MixedPrecision) -> str:
    """``auto`` -> bf16 on a CUDA device that supports it, else no; explicit choices pass through."""
    if requested is MixedPrecision.AUTO:
        bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return "bf16" if bf16 else "no"
    return requested.value


def check_stage_accelerator(accelerator: Accelerator, config: TrainConfig) -> None:
    """Refuse a run on an Accelerator it cannot train with: another precision than this process's, or
    one that steps the scheduler itself (once per process and optimiser step, not once per step)."""
    wanted = resolve_mixed_precision(config.mixed_precision)
    if accelerator.mixed_precision != wanted:
        raise _second_precision(accelerator.mixed_precision, wanted)
    if accelerator.step_scheduler_with_optimizer:
        raise TrainingError(
            "accelerator",
            "steps the scheduler with the optimiser",
            None,
            "make the stage's Accelerator with stage_accelerator(config)",
        )


def _second_precision(current: str, wanted: str) -> TrainingError:
    return TrainingError(
        "train.mixed_precision",
        f"this process already trains under mixed precision {current!r}, and accelerate fixes one precision "
        "per process",
        wanted,
        "use one runtime.mixedPrecision for the whole experiment, or run the stage in its own process "
        "(python -m ensemw2s.trainer STAGE ...)",
    )


def cpu_processes() -> bool:
    """A multi-process launch on a machine without CUDA: CPU processes over gloo.

    accelerate makes a process group of CPU processes only when told ``cpu=True``; without it each
    torchrun process would train alone, on its own copy of every batch.
    """
    try:
        processes = int(os.environ.get(PROCESSES_ENV, "1"))
    except ValueError:
        processes = 1
    return processes > 1 and not torch.cuda.is_available()


def stage_accelerator(config: TrainConfig) -> Accelerator:
    """The stage's Accelerator, for every training run of the stage with ``config``'s precision.

    Gradients are accumulated over ``config.grad_accum`` micro-batches (runs may set the public
    ``gradient_accumulation_steps`` to their own). The scheduler is stepped by the loop, once per
    optimiser step: accelerate's own stepping would step it once per process. The batch plan shards
    itself (uneven micro-batches allowed), so accelerate neither splits nor evens batches.
    """
    precision = resolve_mixed_precision(config.mixed_precision)
    if is_initialized():
        current = AcceleratorState().mixed_precision
        if current != precision:
            raise _second_precision(current, precision)
    return Accelerator(
        cpu=cpu_processes(),
        mixed_precision=precision,
        gradient_accumulation_steps=config.grad_accum,
        step_scheduler_with_optimizer=False,
        dataloader_config=DataLoaderConfiguration(split_batches=False, even_batches=False),
    )
