"""Run one stage: skip it when done, else run it in a workspace and publish its output atomically."""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ensemw2s.spec import ExperimentManifest, FieldError, Stage, StageKind, StageSummary, build_stage_graph

from ..errors import MissingInput, StageFailed, TrainerError
from ..keys import stage_keys
from ..progress import LineProgress, ProgressSink
from ..store import ExperimentStore, StageWorkspace
from .context import StageContext, StageResult

StageFunction = Callable[[StageContext], StageResult]

_MODULES = {
    StageKind.PREPARE: "prepare",
    StageKind.WEAK: "weak",
    StageKind.AGGREGATE: "aggregate",
    StageKind.STRONG: "strong",
    StageKind.REPORT: "report",
}


def stage_function(kind: StageKind) -> StageFunction:
    """The stage's implementation, imported lazily (only the stages that run load torch)."""
    module = importlib.import_module(f"{__package__}.{_MODULES[kind]}")
    function: StageFunction = module.run
    return function


def open_store(manifest: ExperimentManifest, root: str) -> ExperimentStore:
    return ExperimentStore(root, manifest.namespace, manifest.name)


def run_stage(
    manifest: ExperimentManifest,
    stage: Stage,
    store_root: str,
    progress: ProgressSink | None = None,
) -> StageSummary:
    """Run ``stage`` of ``manifest`` against the store at ``store_root``; skipped when already done."""
    sink = progress or LineProgress()
    keys = stage_keys(manifest.spec)
    if stage not in keys:
        raise StageFailed(stage.name, f"not a stage of this experiment (stages: {', '.join(s.name for s in keys)})")
    key = keys[stage]
    store = open_store(manifest, store_root)
    done = store.finished(stage, key)
    if done is not None:
        return done.model_copy(update={"skipped": True})
    for dependency in build_stage_graph(manifest.spec).dependencies[stage]:
        if store.finished(dependency, keys[dependency]) is None:
            raise MissingInput(
                stage.name, f"needs {dependency.name} (key {keys[dependency]}) to have finished; run it first"
            )
    started = time.monotonic()
    if process_rank() > 0:
        return _run_as_helper_rank(manifest, stage, store, keys, sink, started)
    with store.workspace(stage, key) as workspace:
        context = StageContext(manifest, stage, store, keys, workspace, sink)
        try:
            result = stage_function(stage.kind)(context)
        except TrainerError:
            raise
        except FieldError as exc:  # already worded with the formula, naming its field
            raise StageFailed(stage.name, str(exc)) from exc
        except (ValueError, OSError, RuntimeError) as exc:
            raise StageFailed(stage.name, f"{type(exc).__name__}: {exc}") from exc
        summary = StageSummary(
            stage=stage.name,
            key=key,
            seconds=round(time.monotonic() - started, 3),
            metrics=result.metrics,
            notes=result.notes,
            results=result.results,
        )
        store.publish(stage, key, workspace, summary)
    return summary


def process_rank() -> int:
    """This process's rank under torchrun/accelerate launch (0 when launched alone)."""
    return int(os.environ.get("RANK", "0") or 0)


def _run_as_helper_rank(
    manifest: ExperimentManifest,
    stage: Stage,
    store: ExperimentStore,
    keys: dict[Stage, str],
    sink: ProgressSink,
    started: float,
) -> StageSummary:
    """Ranks > 0 train in lockstep with rank 0 and read its checkpoints, but write into a private scratch
    folder and publish nothing: rank 0 alone owns the stage's output."""
    key = keys[stage]
    with (
        store.workspace(stage, key, exclusive=False) as shared,
        tempfile.TemporaryDirectory(prefix="ensemw2s-rank-") as scratch,
    ):
        workspace = StageWorkspace(Path(scratch), shared.checkpoints)
        result = stage_function(stage.kind)(StageContext(manifest, stage, store, keys, workspace, sink))
    return StageSummary(stage=stage.name, key=key, seconds=round(time.monotonic() - started, 3), metrics=result.metrics)


def write_termination_message(path: str | None, summary: StageSummary) -> None:
    """In a pod, leave the summary where Kubernetes picks it up for the operator (<= 4 KiB)."""
    if not path:
        return
    # Not in a pod, or a read-only path: the summary is in the store anyway.
    with contextlib.suppress(OSError):
        Path(path).write_text(summary.termination_message(), encoding="utf-8")
