"""The one error type of the data layer.

Messages follow the project formula: what failed, where (field path or file:line), the value,
what is allowed, how to fix it, e.g.
``spec.dataset.name: unknown dataset 'sciqq' (known: arc-challenge, ...); use one of these or ...``.
"""

from __future__ import annotations

from typing import ClassVar


class DatasetError(ValueError):
    """A dataset could not be loaded, formatted, rated or split as asked (permanent: retrying reads the same data)."""

    permanent: ClassVar[bool] = True
