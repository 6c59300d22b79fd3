"""Trainer errors. ``StageFailed`` wraps anything that stops a stage, naming the stage.

Each error class says whether retrying can help (``permanent``): a permanent failure (bad spec, data or
model) ends the process with :attr:`~ensemw2s.spec.ExitCode.PERMANENT`, which the stage Job does not retry;
anything else with :attr:`~ensemw2s.spec.ExitCode.TRANSIENT`. A wrapper (``StageFailed``) is as permanent
as its ``__cause__``: ``raise StageFailed(stage, why) from DatasetError(...)`` is permanent.
"""

from __future__ import annotations

from typing import ClassVar

from ensemw2s.spec import ExitCode


class TrainerError(RuntimeError):
    """Base class of the trainer's own errors."""

    permanent: ClassVar[bool] = False


class StoreError(TrainerError):
    """The artifact store cannot be read or written, or holds something unexpected."""


class StageFailed(TrainerError):
    """A stage could not finish: ``stage <name>: <why>; <fix>``. Permanent when its cause is."""

    def __init__(self, stage: str, message: str) -> None:
        self.stage = stage
        super().__init__(f"stage {stage}: {message}")


class MissingInput(StageFailed):
    """A stage's upstream output is not in the store (run the upstream stage first)."""


def is_permanent(error: BaseException) -> bool:
    """Whether retrying cannot help: the error's class, or a class along its ``__cause__`` chain, says so.

    Any exception class may declare ``permanent: ClassVar[bool]`` (``DatasetError``, ``FieldError``,
    ``SpecError`` do); classes that do not are transient.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if getattr(type(current), "permanent", False) is True:
            return True
        seen.add(id(current))
        current = current.__cause__
    return False


def exit_code(error: BaseException) -> ExitCode:
    """The process exit code for an error that stopped the trainer."""
    return ExitCode.PERMANENT if is_permanent(error) else ExitCode.TRANSIENT
