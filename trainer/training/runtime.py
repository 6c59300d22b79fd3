"""The process-level setup of a run: CPU threads, mixed precision and the ``accelerate.Accelerator``."""

from __future__ import annotations

import os

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState

from .config import MixedPrecision


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op CPU threads (None = every core); returns the number set."""
    count = threads if threads is not None else (os.cpu_count() or 1)
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
