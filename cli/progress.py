"""Rich progress bars for local runs (only on a terminal; plain lines otherwise), on stderr."""

from __future__ import annotations

from types import TracebackType

from ensemw2s.spec import StageSummary
from ensemw2s.trainer.progress import LineProgress, finished_text
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class RichProgress:
    """A ProgressSink: one bar for the experiment's stages, one for the running stage's steps."""

    def __init__(self, total_stages: int, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.overall: TaskID = self.progress.add_task("stages", total=total_stages)
        self.current: TaskID | None = None
        self._stage: str | None = None

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.stop()

    def stage_started(self, stage: str, description: str) -> None:
        if stage != self._stage:
            if self.current is not None:
                self.progress.remove_task(self.current)
            self.current = self.progress.add_task(f"  {stage}", total=None)
            self._stage = stage
        assert self.current is not None
        self.progress.update(self.current, description=f"  {stage}: {description}")

    def advance(self, stage: str, done: int, total: int, detail: str = "") -> None:
        if self.current is not None and stage == self._stage:
            self.progress.update(self.current, completed=done, total=total or None)

    def stage_finished(self, stage: str, summary: StageSummary) -> None:
        self.progress.advance(self.overall)
        self.progress.console.print(f"  {stage}: {finished_text(summary)}", markup=False, highlight=False)

    def log(self, message: str) -> None:
        self.progress.console.print(message, markup=False, highlight=False)


def progress_for(console: Console, total_stages: int) -> RichProgress | LineProgress:
    return RichProgress(total_stages, console) if console.is_terminal else LineProgress()
