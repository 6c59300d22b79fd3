"""Operator errors, and how the Kopf runtime maps them.

Every message follows the project's formula ``<where>: <what> (got <value>); <fix>``.

Mapping (done in ``handlers.py`` by ``as_kopf_errors``; kopf is imported only by the runtime modules
``handlers.py``, ``settings.py`` and ``__main__.py``, never by the pure core):

- :class:`PermanentError` -> ``kopf.PermanentError``: retrying cannot help (an invalid spec, an
  object the operator does not own, a resource without a uid). Report it in status/events and stop.
- :class:`TemporaryError` -> ``kopf.TemporaryError(delay=error.delay)``: the world may fix itself
  (API server unavailable, a conflict, an object not visible yet). Retry after ``delay`` seconds.
- Any other :class:`OperatorError` is a programming error: let Kopf log it and retry with backoff.

Spec problems never raise here: ``semantic_problems`` returns them and ``plan_rejected`` turns them
into an ``Accepted=False`` condition, so an invalid experiment is a state, not an exception.
"""

from __future__ import annotations


class OperatorError(Exception):
    """Base of every error the operator raises on purpose."""


class PermanentError(OperatorError):
    """Retrying the same handler on the same object cannot succeed."""


class TemporaryError(OperatorError):
    """Retrying later may succeed; ``delay`` is a hint in seconds."""

    def __init__(self, message: str, delay: float = 10.0) -> None:
        super().__init__(message)
        self.delay = delay


class ForeignObjectError(PermanentError):
    """An object carries the operator's labels but not a shape the operator created (skip it)."""


__all__ = ["ForeignObjectError", "OperatorError", "PermanentError", "TemporaryError"]
