"""The report's error: the results cannot be written where asked."""


class ReportError(ValueError):
    """A report cannot be written; the message says where, the value, and how to fix it."""
