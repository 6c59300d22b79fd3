"""Exit codes and the one way w2sctl reports a known error.

0  ok
1  a known error: one ``Error: ...`` line on stderr (a traceback only with W2SCTL_DEBUG=1)
2  usage error (bad flags or arguments; typer/click's own code)
3  the experiment ran (or was waited for) and failed
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    EXPERIMENT_FAILED = 3


class CliError(Exception):
    """A known error: printed as one ``Error:`` line, exit code 1 unless told otherwise."""

    def __init__(self, message: str, code: ExitCode = ExitCode.ERROR, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        """The API server's answer when the error is one (403, 404, ...), for callers that degrade on it."""
