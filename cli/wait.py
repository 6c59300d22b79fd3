"""Following an experiment: ``w2sctl wait`` and ``submit --watch``.

:func:`follow` reads the experiment every :data:`POLL_SECONDS` until a condition holds, showing each
change: on a terminal (stderr) a rich live table of the stages, otherwise one line per change (the
experiment's phase, each stage's phase), so a CI log stays readable. Polling rather than a watch: one
GET every few seconds is cheap, survives API server restarts without resume logic, and needs only the
``get`` verb.

Exit codes (:class:`~.errors.ExitCode`): 0 when the condition is met; 3 when the experiment failed (or
became Invalid) instead; 1 on a timeout or when the condition can no longer be met.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Annotated

import typer
from ensemw2s.operator.status_model import Phase

from .errors import CliError, ExitCode
from .state import State

if TYPE_CHECKING:
    from rich.live import Live

    from .experiment import ExperimentView
    from .kube import Cluster

POLL_SECONDS = 2.0
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")
Condition = Callable[["ExperimentView"], bool]


def parse_duration(text: str) -> float:
    """``30m``, ``1h30m``, ``90s``, ``45`` (seconds) -> seconds; a usage error otherwise."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    match = _DURATION.match(text)
    if not text or match is None or not any(match.groups()):
        raise typer.BadParameter(f"must be a duration like 30m, 1h30m or 90s (got {text!r})", param_hint="'--timeout'")
    hours, minutes, seconds = (float(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def finished(view: ExperimentView) -> bool:
    return view.finished


def phase_condition(text: str) -> tuple[Phase, Condition]:
    """``succeeded``, ``failed`` or ``phase=X`` (any phase, any case) -> the phase and its test."""
    explicit = text.lower().startswith("phase=")
    wanted = text.split("=", 1)[1] if explicit else text
    phase = {p.value.lower(): p for p in Phase}.get(wanted.strip().lower())
    if phase is None or (not explicit and phase not in (Phase.SUCCEEDED, Phase.FAILED)):
        raise typer.BadParameter(
            f"must be succeeded, failed or phase=PHASE with PHASE one of {', '.join(p.value for p in Phase)} "
            f"(got {text!r})",
            param_hint="'--for'",
        )
    return phase, lambda view: view.status.phase is phase


class ChangeLines:
    """One stderr line per change: the experiment's phase and message, each stage's phase."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.seen: dict[str, str] = {}

    def __enter__(self) -> ChangeLines:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, view: ExperimentView) -> None:
        now = datetime.now(UTC).strftime("%H:%M:%S")
        current = {e.name: e.phase.value + (f" ({e.reason})" if e.reason else "") for e in view.status.stages}
        for name in view.status.succeeded_stages:
            current.setdefault(name, "Succeeded")
        headline = f"{view.status.phase.value}, round {view.status.round or '-'}, PGR {view.status.pgr or '-'}"
        if view.status.message:
            headline += f": {view.status.message}"
        current[""] = headline
        for name, text in current.items():
            if self.seen.get(name) != text:
                where = f"{view.name}" if not name else f"{view.name} {name}"
                self.state.err.print(f"{now} {where}: {text}", markup=False, highlight=False, soft_wrap=True)
        self.seen = current


class LiveTable:
    """A rich live table of the stages on a terminal (stderr), redrawn as the status changes."""

    def __init__(self, state: State) -> None:
        from rich.live import Live

        self.live: Live = Live(console=state.err, refresh_per_second=4, transient=False)

    def __enter__(self) -> LiveTable:
        self.live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.live.__exit__(kind, value, traceback)

    def update(self, view: ExperimentView) -> None:
        from rich.table import Table

        from .status_view import status_rows

        rows = status_rows(view)
        table = Table(title=rows.title, title_justify="left", caption="\n".join(rows.footer).strip() or None)
        for column in rows.columns:
            table.add_column(column.upper())
        for row in rows.rows:
            table.add_row(*row)
        self.live.update(table)


def follow(
    cluster: Cluster,
    name: str,
    state: State,
    done: Condition,
    timeout: float | None,
    *,
    poll: float | None = None,
) -> ExperimentView:
    """Read the experiment until ``done`` holds or it finished (returned); CliError on ``timeout``."""
    from .experiment import ExperimentView

    interval = POLL_SECONDS if poll is None else poll
    deadline = None if timeout is None else time.monotonic() + timeout
    display = LiveTable(state) if state.err.is_terminal else ChangeLines(state)
    warned = False
    with display:
        while True:
            view = ExperimentView.from_body(cluster.get_experiment(name))
            display.update(view)
            lag = view.operator_lag()
            if lag is not None and not warned:
                state.warn(lag)
                warned = True
            if done(view) or view.finished:
                return view
            if deadline is not None and time.monotonic() >= deadline:
                raise CliError(
                    f"{view.namespace}/{name}: timed out after {timeout:g}s (got phase {view.status.phase.value}, "
                    f"stage {view.status.stage or '-'}); wait longer with --timeout"
                )
            time.sleep(interval if deadline is None else max(0.0, min(interval, deadline - time.monotonic())))


def outcome_of(view: ExperimentView, state: State, wanted: Phase = Phase.SUCCEEDED) -> None:
    """Raise the exit code for how a followed experiment ended (nothing when it reached ``wanted``)."""
    phase = view.status.phase
    if phase is wanted:
        state.done(view.name, f"condition met ({phase.value})", view.body)
        return
    detail = f": {view.status.message.splitlines()[0]}" if view.status.message else ""
    if phase in (Phase.FAILED, Phase.INVALID):
        raise CliError(f"{view.namespace}/{view.name}: {phase.value}{detail}", ExitCode.EXPERIMENT_FAILED)
    raise CliError(
        f"{view.namespace}/{view.name}: ended {phase.value}, so it can no longer become {wanted.value}{detail}"
    )


def wait(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Experiment name.", show_default=False)],
    for_: Annotated[
        str, typer.Option("--for", help="succeeded, failed, or phase=PHASE (Running, Suspended, ...).")
    ] = "succeeded",
    timeout: Annotated[str, typer.Option("--timeout", help="Give up after this long: 30m, 1h30m, 90s.")] = "30m",
) -> None:
    """Wait until an experiment reaches a phase: exit 0, 3 if it failed instead, 1 on a timeout."""
    from .kube import connect

    state: State = ctx.obj
    phase, condition = phase_condition(for_)
    seconds = parse_duration(timeout)
    with connect(state) as cluster:
        view = follow(cluster, name, state, condition, seconds)
    outcome_of(view, state, phase)


def register(app: typer.Typer) -> None:
    app.command()(wait)
