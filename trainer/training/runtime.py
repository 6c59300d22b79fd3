"""The process-level setup of a run: CPU threads, mixed precision and the ``accelerate.Accelerator``."""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState

from .config import MixedPrecision

CGROUP_V2_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


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
    """Cores this process may use: os.cpu_count(), narrowed by CPU affinity and the cgroup limit.

    In a Kubernetes pod os.cpu_count() is the node's core count; a 2-CPU limit with 64 threads
    oversubscribes the quota and runs many times slower than with 2.
    """
    count = os.cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        count = min(count, len(os.sched_getaffinity(0)))
    limit = _cgroup_cpu_limit()
    return min(count, limit) if limit is not None else count


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op CPU threads (None = :func:`available_cpus`); returns the number set."""
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


def make_accelerator(mixed_precision: str) -> Accelerator:
    """An Accelerator with this precision.

    accelerate keeps one process-wide state and refuses a second Accelerator with another precision.
    One process may train models under different settings (weak rounds, then a student), so the
    mixed-precision part of that state is reset; the distributed part (process group) is kept.
    """
    state = AcceleratorState._shared_state
    if state and state.get("_mixed_precision") not in (None, mixed_precision):
        AcceleratorState._reset_state(reset_partial_state=False)
    return Accelerator(mixed_precision=mixed_precision)
