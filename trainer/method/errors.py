"""The method's error: a bad input to the boosting, aggregation or PGR math."""


class MethodError(ValueError):
    """An input to the method's math is invalid.

    The message says what failed, where, the value, what is allowed and how to fix it, e.g.
    ``weights: must sum to 1 (got 0.93); normalise them first``.
    """
