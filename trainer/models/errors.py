"""Model errors: one message formula, as in the spec package.

Formula: ``<field path>: <what is wrong> (got <value>); <how to fix>``, e.g.
``spec.weak.model: 'tiny-wek' is not a preset, a local directory or a Hugging Face model id
(presets: minilm, tiny-strong, tiny-weak); did you mean 'tiny-weak'?``.
"""

from __future__ import annotations

from typing import Any


def _describe(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


class ModelError(ValueError):
    """A model could not be resolved, built, loaded or saved."""

    def __init__(self, path: str, rule: str, value: Any = None, fix: str = "") -> None:
        message = rule if value is None else f"{rule} (got {_describe(value)})"
        if fix:
            message = f"{message}; {fix}"
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
