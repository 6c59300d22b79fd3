"""Spec errors: one message formula for every problem with an experiment.

Formula: ``<field path>: <what is wrong> (got <value>); <how to fix>``, e.g.
``spec.weak.rounds: must be >= 1 (got 0); set spec.weak.rounds to the number of AdaBoost rounds``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One finding about a spec: where, what, and (optionally) how to fix it."""

    path: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def describe_value(value: Any) -> str:
    """The value as it appears in messages: short, and quoted when it is a string."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def problem(path: str, rule: str, value: Any = None, fix: str = "", *, warning: bool = False) -> Problem:
    """Build a problem with the project's message formula."""
    message = rule if value is None else f"{rule} (got {describe_value(value)})"
    if fix:
        message = f"{message}; {fix}"
    return Problem(path, message, Severity.WARNING if warning else Severity.ERROR)


class FieldError(ValueError):
    """An error about one field or input, worded with the project's formula (see :func:`problem`).

    The trainer's layers subclass it (``ModelError``, ``TrainingError``), so every message reads the same.
    Permanent: a bad field or input stays bad on retry (the trainer exits with ``ExitCode.PERMANENT``).
    """

    permanent: ClassVar[bool] = True

    def __init__(self, path: str, rule: str, value: Any = None, fix: str = "") -> None:
        self.path = path
        super().__init__(str(problem(path, rule, value, fix)))


class SpecError(ValueError):
    """An experiment spec is invalid. Carries every problem found, each with its field path. Permanent."""

    permanent: ClassVar[bool] = True

    def __init__(self, problems: Sequence[Problem] | Problem) -> None:
        self.problems: tuple[Problem, ...] = (problems,) if isinstance(problems, Problem) else tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def first(self) -> Problem:
        return self.problems[0]


def raise_if_errors(problems: Iterable[Problem]) -> list[Problem]:
    """Raise SpecError when any problem is an error; return the warnings otherwise."""
    found = list(problems)
    errors = [p for p in found if p.severity is Severity.ERROR]
    if errors:
        raise SpecError(errors)
    return found
