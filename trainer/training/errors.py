"""Training errors, with the spec package's message formula: ``<field>: <rule> (got <value>); <fix>``."""

from __future__ import annotations

from typing import Any


def _describe(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


class TrainingError(ValueError):
    """A training or inference request that cannot run as given."""

    def __init__(self, path: str, rule: str, value: Any = None, fix: str = "") -> None:
        message = rule if value is None else f"{rule} (got {_describe(value)})"
        if fix:
            message = f"{message}; {fix}"
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
