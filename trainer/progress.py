"""Progress reporting: stages tell a sink what they do; the CLI renders bars, a pod prints lines."""

from __future__ import annotations

import sys
import time
from typing import Protocol

from ensemw2s.spec import StageSummary


def finished_text(summary: StageSummary) -> str:
    if summary.skipped:
        return f"already done (key {summary.key}): reused"
    return f"done in {summary.seconds:.1f} s"


class ProgressSink(Protocol):
    def stage_started(self, stage: str, description: str) -> None: ...

    def advance(self, stage: str, done: int, total: int, detail: str = "") -> None: ...

    def stage_finished(self, stage: str, summary: StageSummary) -> None: ...

    def log(self, message: str) -> None: ...


class LineProgress:
    """Plain lines on stderr, at most one progress line every ``interval`` seconds per stage."""

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}

    def stage_started(self, stage: str, description: str) -> None:
        print(f"[{stage}] {description}", file=sys.stderr, flush=True)

    def advance(self, stage: str, done: int, total: int, detail: str = "") -> None:
        now = time.monotonic()
        if done < total and now - self._last.get(stage, 0.0) < self.interval:
            return
        self._last[stage] = now
        print(f"[{stage}] {done}/{total} {detail}".rstrip(), file=sys.stderr, flush=True)

    def stage_finished(self, stage: str, summary: StageSummary) -> None:
        print(f"[{stage}] {finished_text(summary)}", file=sys.stderr, flush=True)

    def log(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)


class SilentProgress:
    def stage_started(self, stage: str, description: str) -> None:
        pass

    def advance(self, stage: str, done: int, total: int, detail: str = "") -> None:
        pass

    def stage_finished(self, stage: str, summary: StageSummary) -> None:
        pass

    def log(self, message: str) -> None:
        pass
