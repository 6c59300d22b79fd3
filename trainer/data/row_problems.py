"""Problems about rows of a local data file, shared by the classification and generation preflights.

Each names its row as ``file:line``; one rule names at most :data:`SHOWN_ROWS` rows and counts the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

from ensemw2s.spec import Problem, problem

from .errors import DatasetError

SHOWN_ROWS = 3
"""Bad rows named per rule; the rest are counted."""


def problems_from_error(error: DatasetError) -> list[Problem]:
    """A DatasetError's lines as problems (its message already names the field or file:line)."""
    return [Problem("", line) for line in str(error).splitlines() if line.strip()]


def difficulty_problems(missing: Sequence[str], rows: int, other_methods: str = "proxy or kfold") -> list[Problem]:
    """Rows without a difficulty value, which ``difficulty: column`` (the default) needs on every row."""
    rule = "needs on every row"
    fix = f"add a difficulty column, or set spec.dataset.difficulty.method to {other_methods}"
    if missing and len(missing) == rows:
        file = missing[0].rsplit(":", 1)[0]
        return [
            problem(
                file,
                f"no row has a 'difficulty' value, which spec.dataset.difficulty.method column (the default) {rule}",
                fix=fix,
            )
        ]
    return first_rows(
        [
            problem(where, f"has no 'difficulty' value, which spec.dataset.difficulty.method column {rule}", fix=fix)
            for where in missing
        ]
    )


def first_rows(bad: Sequence[Problem]) -> list[Problem]:
    """The first few problems of one rule; the last one shown counts the rest."""
    shown = list(bad[:SHOWN_ROWS])
    if len(bad) > SHOWN_ROWS:
        last = shown[-1]
        shown[-1] = Problem(last.path, f"{last.message} (and {len(bad) - SHOWN_ROWS} more rows)", last.severity)
    return shown
