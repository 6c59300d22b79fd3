"""Trainer errors. ``StageFailed`` wraps anything that stops a stage, naming the stage."""

from __future__ import annotations


class TrainerError(RuntimeError):
    """Base class of the trainer's own errors."""


class StoreError(TrainerError):
    """The artifact store cannot be read or written, or holds something unexpected."""


class StageFailed(TrainerError):
    """A stage could not finish: ``stage <name>: <why>; <fix>``."""

    def __init__(self, stage: str, message: str) -> None:
        self.stage = stage
        super().__init__(f"stage {stage}: {message}")


class MissingInput(StageFailed):
    """A stage's upstream output is not in the store (run the upstream stage first)."""
