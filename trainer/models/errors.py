"""Model errors: one message formula, as in the spec package.

Formula: ``<field path>: <what is wrong> (got <value>); <how to fix>``, e.g.
``spec.weak.model: 'tiny-wek' is not a preset, a local directory or a Hugging Face model id
(presets: minilm, minilm-l1, minilm-l2, minilm-l3, tiny-strong, tiny-weak); did you mean 'tiny-weak'?``.
"""

from __future__ import annotations

from ensemw2s.spec.errors import FieldError


class ModelError(FieldError):
    """A model could not be resolved, built, loaded or saved (permanent, as every ``FieldError``)."""


def first_line(error: BaseException) -> str:
    """An exception's first line, at most 160 characters: what a message quotes of a library's error."""
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return line if len(line) <= 160 else line[:157] + "..."
