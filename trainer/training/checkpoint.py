"""Mid-run checkpoints through accelerate: ``save_state`` into a temporary folder, published by rename.

A checkpoint is a folder ``step-<k>`` (k = completed optimiser steps) holding what
``Accelerator.save_state`` writes (model, optimiser, scheduler, gradient scaler, every process's RNG
states and accelerate's step counter) and ``checkpoint.json``: the step, the run's fingerprint and each
file's size and SHA-256. Every process writes into ``.tmp-step-<k>``; the main process adds the record
last and renames the folder, so a folder named ``step-*`` was whole when written. The newest ``KEEP``
are kept.

Resuming loads the newest checkpoint whose files match its record. A damaged one (a file missing,
truncated or changed; a record unreadable) is discarded with a warning and the one before it tried,
else training starts over. A checkpoint written with another number of processes or accumulation steps
cannot carry over (each process has its RNG file; accelerate counts micro-steps): it is discarded with a
warning and training starts over. A whole checkpoint of another run (its fingerprint differs otherwise)
is an error.
All functions here are collective: every process of the run calls them at the same point.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path

from accelerate import Accelerator
from accelerate.logging import get_logger
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..files import FileDigest
from .errors import TrainingError

PREFIX = "step-"
TEMPORARY_PREFIX = ".tmp-"
RECORD_FILE = "checkpoint.json"
KEEP = 2
"""Checkpoints kept: the newest, and the one a damaged newest falls back to."""
LAYOUT_KEYS = frozenset({"processes", "grad_accum"})
"""Fingerprint entries that change how a run is laid out, not what it computes (``strong.nodes`` may
change on a running experiment): a checkpoint that differs only in them is discarded, not refused."""

Fingerprint = Mapping[str, int | float | str]

logger = get_logger(__name__)


class CheckpointRecord(BaseModel):
    """``checkpoint.json``: what a checkpoint continues and what its files must be."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: int = Field(ge=1)
    fingerprint: dict[str, int | float | str]
    files: dict[str, FileDigest]


def checkpoint_name(step: int) -> str:
    return f"{PREFIX}{step:09d}"


def _checkpoints(directory: Path) -> list[Path]:
    """Published checkpoints, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if path.is_dir() and path.name.startswith(PREFIX))


def latest_checkpoint(directory: Path) -> Path | None:
    """The published checkpoint with the most steps, if any (whole when written; see :func:`inspect_checkpoint`)."""
    found = _checkpoints(directory)
    return found[-1] if found else None


class _TiedWeightsNotice(logging.Filter):
    """Drops accelerate's warning on every save of a model with tied weights (a causal LM's output layer is
    its embedding): safetensors keeps one copy and ``load_state`` ties them back, which the resume tests
    check, so the line says nothing a user should act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Removed shared tensor" not in record.getMessage()


logging.getLogger("accelerate.utils.other").addFilter(_TiedWeightsNotice())


def save_checkpoint(accelerator: Accelerator, directory: Path, step: int, fingerprint: Fingerprint) -> Path:
    """Write ``step-<step>`` from every process's state, publish it by rename, drop all but ``KEEP``."""
    final = directory / checkpoint_name(step)
    temporary = directory / f"{TEMPORARY_PREFIX}{final.name}"
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        shutil.rmtree(temporary, ignore_errors=True)  # a crashed attempt's leftovers
        temporary.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(temporary))
    accelerator.wait_for_everyone()  # every process's RNG file is written
    if accelerator.is_main_process:
        files = {path.name: FileDigest.of_file(path) for path in sorted(temporary.iterdir()) if path.is_file()}
        record = CheckpointRecord(step=step, fingerprint=dict(fingerprint), files=files)
        (temporary / RECORD_FILE).write_text(record.model_dump_json(indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)
        temporary.rename(final)
        for old in _checkpoints(directory)[:-KEEP]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def inspect_checkpoint(path: Path) -> CheckpointRecord | str:
    """The checkpoint's record when its files match it, else what is wrong with it."""
    try:
        record = CheckpointRecord.model_validate_json((path / RECORD_FILE).read_bytes())
    except (OSError, ValueError, ValidationError) as error:
        return f"{RECORD_FILE} is missing or unreadable ({type(error).__name__})"
    for name, recorded in sorted(record.files.items()):
        file = path / name
        if not file.is_file():
            return f"{name} is missing"
        actual = FileDigest.of_file(file)
        if actual.size != recorded.size:
            return f"{name} has {actual.size} bytes, {recorded.size} were written (truncated?)"
        if actual.sha256 != recorded.sha256:
            return f"{name} does not match the SHA-256 it was written with (changed or corrupted)"
    return record


def restore_checkpoint(accelerator: Accelerator, directory: Path, fingerprint: Fingerprint) -> int:
    """Load the newest whole checkpoint of this run into the prepared objects; returns its step (0: none).

    Every process inspects the checkpoints (they read the same files, so they choose the same one); the
    main process warns about and removes the discarded ones, and an interrupted save's leftovers.
    """
    chosen: tuple[Path, CheckpointRecord] | None = None
    discarded: dict[Path, str] = {}
    for path in reversed(_checkpoints(directory)):
        found = inspect_checkpoint(path)
        if isinstance(found, CheckpointRecord):
            chosen = (path, found)
            break
        discarded[path] = found
    if chosen is not None:
        path, record = chosen
        changed = sorted(
            key
            for key in set(record.fingerprint) | set(fingerprint)
            if record.fingerprint.get(key) != fingerprint.get(key)
        )
        if changed and set(changed) <= LAYOUT_KEYS:
            layout = ", ".join(f"{key} {record.fingerprint.get(key)} -> {fingerprint.get(key)}" for key in changed)
            discarded.update({old: f"written for another layout ({layout})" for old in _checkpoints(directory)})
            chosen = None
        elif changed:
            raise TrainingError(
                "checkpoint_dir",
                f"{str(path)!r} belongs to a different run (differs in: {', '.join(changed)})",
                None,
                "use a fresh checkpoint directory per run, or delete the stale one",
            )
    _discard(accelerator, directory, discarded, chosen[0].name if chosen is not None else "the start")
    if chosen is None:
        return 0
    path, record = chosen
    try:
        accelerator.load_state(str(path))
    except (OSError, RuntimeError, ValueError, KeyError) as error:
        raise TrainingError(
            "checkpoint_dir",
            f"cannot load the whole checkpoint {str(path)!r} ({type(error).__name__}: {error})",
            None,
            "delete it to start the run over",
        ) from error
    return record.step


def _discard(accelerator: Accelerator, directory: Path, discarded: dict[Path, str], fallback: str) -> None:
    """Warn about each discarded checkpoint (accelerate's logger: the main process only) and remove it and
    any interrupted save's leftovers, once every process has chosen."""
    accelerator.wait_for_everyone()
    for path, problem in discarded.items():
        logger.warning(f"checkpoint {str(path)!r}: {problem}; discarded, training resumes from {fallback}")
    if accelerator.is_main_process and directory.is_dir():
        for path in discarded:
            shutil.rmtree(path, ignore_errors=True)
        for leftover in directory.glob(f"{TEMPORARY_PREFIX}{PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)
    accelerator.wait_for_everyone()
