"""Mid-run checkpoints: model, optimiser, scheduler, RNG states and step, written atomically.

A checkpoint is a directory ``step-<k>`` (k = completed optimiser steps) holding ``model.safetensors``
and ``training_state.pt``. It is written under a temporary name and renamed, so a directory named
``step-*`` is always complete; older checkpoints are removed once a newer one exists. The state
carries a fingerprint of the run (data size, steps, seed, ...): resuming someone else's run fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from .errors import TrainingError

PREFIX = "step-"
MODEL_FILE = "model.safetensors"
STATE_FILE = "training_state.pt"

Fingerprint = Mapping[str, int | float | str]


def checkpoint_name(step: int) -> str:
    return f"{PREFIX}{step:09d}"


def latest_checkpoint(directory: Path) -> Path | None:
    """The complete checkpoint with the most steps, if any."""
    if not directory.is_dir():
        return None
    found = [path for path in directory.iterdir() if path.is_dir() and path.name.startswith(PREFIX)]
    return max(found, key=lambda path: path.name) if found else None


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def save_checkpoint(
    directory: Path,
    step: int,
    model: nn.Module,
    optimizer: Optimizer,
    scheduler: LRScheduler,
    fingerprint: Fingerprint,
) -> Path:
    """Write ``step-<step>`` atomically and remove older checkpoints."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / checkpoint_name(step)
    temporary = directory / f".tmp-{checkpoint_name(step)}-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    save_model(model, str(temporary / MODEL_FILE))
    state = {
        "step": step,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": _rng_state(),
        "fingerprint": dict(fingerprint),
    }
    torch.save(state, temporary / STATE_FILE)
    shutil.rmtree(final, ignore_errors=True)
    temporary.rename(final)
    for path in directory.iterdir():
        if path.is_dir() and path.name.startswith(PREFIX) and path.name < final.name:
            shutil.rmtree(path, ignore_errors=True)
    return final


def restore_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: Optimizer,
    scheduler: LRScheduler,
    fingerprint: Fingerprint,
) -> int:
    """Load a checkpoint into the live objects and restore the RNG states; returns its step."""
    state = torch.load(path / STATE_FILE, map_location="cpu", weights_only=True)
    saved = state["fingerprint"]
    if saved != dict(fingerprint):
        changed = sorted(key for key in set(saved) | set(fingerprint) if saved.get(key) != fingerprint.get(key))
        raise TrainingError(
            "checkpoint_dir",
            f"{str(path)!r} belongs to a different run (differs in: {', '.join(changed)})",
            None,
            "use a fresh checkpoint directory per run, or delete the stale one",
        )
    load_model(model, str(path / MODEL_FILE), device=str(next(model.parameters()).device))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"]["torch"])
    if "cuda" in state["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    return int(state["step"])
