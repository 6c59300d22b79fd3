"""Model errors: one message formula, as in the spec package.

Formula: ``<field path>: <what is wrong> (got <value>); <how to fix>``, e.g.
``spec.weak.model: 'tiny-wek' is not a preset, a local directory or a Hugging Face model id
(presets: minilm, minilm-l1, minilm-l2, minilm-l3, tiny-strong, tiny-weak); did you mean 'tiny-weak'?``.
"""

from __future__ import annotations

from ensemw2s.spec.errors import FieldError


class ModelError(FieldError):
    """A model could not be resolved, built, loaded or saved (permanent, as every ``FieldError``)."""
