"""The method's error: a bad input to the boosting, aggregation or PGR math."""

from typing import ClassVar


class MethodError(ValueError):
    """An input to the method's math is invalid.

    The message says what failed, where, the value, what is allowed and how to fix it, e.g.
    ``weights: must sum to 1 (got 0.93); normalise them first``.

    Permanent: the math is deterministic, so a retry on the same inputs fails the same way.
    """

    permanent: ClassVar[bool] = True
