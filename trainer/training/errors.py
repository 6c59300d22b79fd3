"""Training errors, with the spec package's message formula: ``<field>: <rule> (got <value>); <fix>``."""

from __future__ import annotations

from ensemw2s.spec.errors import FieldError


class TrainingError(FieldError):
    """A training or inference request that cannot run as given (permanent, as every ``FieldError``)."""
