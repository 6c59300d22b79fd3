"""Run one stage: skip it when done, else run it in a workspace and publish its output atomically."""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from ensemw2s.spec import SHORT_NAMES, ExperimentManifest, Stage, StageKind, StageSummary, Task, build_stage_graph
from ensemw2s.spec.contract import ANNOTATION_REDO

from ..errors import MissingInput, StageFailed, TrainerError, is_permanent
from ..keys import stage_keys
from ..progress import LineProgress, ProgressSink, SilentProgress
from ..store import DamagedArtifact, ExperimentStore, StageWorkspace
from .context import StageContext, StageResult

StageFunction = Callable[[StageContext], StageResult]

_MODULES = {
    StageKind.PREPARE: "prepare",
    StageKind.WEAK: "weak",
    StageKind.AGGREGATE: "aggregate",
    StageKind.STRONG: "strong",
    StageKind.REPORT: "report",
}
_GENERATION_PACKAGE = "generation"
"""Where the generation task's stages live (one module per kind, the same names); the report is shared."""


def stage_function(kind: StageKind, task: Task = Task.CLASSIFICATION) -> StageFunction:
    """The stage's implementation for ``task``, imported lazily (only the stages that run load torch)."""
    name = _MODULES[kind]
    if task is Task.GENERATION and kind is not StageKind.REPORT:
        name = f"{_GENERATION_PACKAGE}.{name}"
    module = importlib.import_module(f"{__package__}.{name}")
    function: StageFunction = module.run
    return function


def open_store(manifest: ExperimentManifest, root: str) -> ExperimentStore:
    return ExperimentStore(root, manifest.namespace, manifest.name)


class DamagedInput(StageFailed):
    """An upstream stage's output is damaged: this stage cannot run until that stage is redone.

    Permanent: rerunning this stage reads the same damaged files; only redoing the upstream stage helps.
    """

    permanent: ClassVar[bool] = True

    def __init__(self, stage: str, damage: DamagedArtifact) -> None:
        self.damaged_stage = damage.stage
        super().__init__(stage, f"its input {damage.stage} is damaged: {damage}; {redo_hint(damage.stage)}")


def redo_hint(stage_name: str) -> str:
    """How a user redoes a stage (and what depends on it), locally and on a cluster."""
    return (
        f"redo {stage_name} and what depends on it: `w2sctl run FILE --redo {stage_name}` locally, or "
        f"`kubectl annotate {SHORT_NAMES[0]} NAME {ANNOTATION_REDO}={stage_name} --overwrite` on a cluster"
    )


def run_stage(
    manifest: ExperimentManifest,
    stage: Stage,
    store_root: str,
    progress: ProgressSink | None = None,
    *,
    redo: bool = False,
) -> StageSummary:
    """Run ``stage`` of ``manifest`` against the store at ``store_root``; skipped when already done.

    A finished output is reused only when its files match its ``stage.json``; a damaged one is reported
    (naming the file) and redone. ``redo`` discards the finished output first and runs the stage again.
    A damaged upstream output fails with :class:`DamagedInput`, naming the stage to redo.
    """
    sink = progress or LineProgress()
    keys = stage_keys(manifest.spec)
    if stage not in keys:
        raise StageFailed(stage.name, f"not a stage of this experiment (stages: {', '.join(s.name for s in keys)})")
    key = keys[stage]
    store = open_store(manifest, store_root)
    owner = process_rank() == 0  # rank 0 alone changes the store
    done = None if redo else _reusable(store, stage, keys, sink, owner=owner)
    if done is not None:
        return done.model_copy(update={"skipped": True})
    if redo and owner:
        store.discard(stage, key)
    for dependency in build_stage_graph(manifest.spec).dependencies[stage]:
        try:
            finished = store.finished(dependency, keys[dependency])
        except DamagedArtifact as exc:
            raise DamagedInput(stage.name, exc) from exc
        if finished is None:
            raise MissingInput(
                stage.name, f"needs {dependency.name} (key {keys[dependency]}) to have finished; run it first"
            )
    started = time.monotonic()
    if process_rank() > 0:
        return _run_as_helper_rank(manifest, stage, store, keys, sink, started)
    with store.workspace(stage, key) as workspace:
        context = StageContext(manifest, stage, store, keys, workspace, sink)
        result = _call_stage_function(context)
        summary = StageSummary(
            stage=stage.name,
            key=key,
            seconds=round(time.monotonic() - started, 3),
            metrics=result.metrics,
            notes=result.notes,
            results=result.results,
        )
        store.publish(stage, key, workspace, summary, context.inputs)
    return summary


def _call_stage_function(context: StageContext) -> StageResult:
    """Run the stage's implementation (on every rank); what stops it becomes a :class:`StageFailed` naming
    the stage: :class:`DamagedInput` for a damaged upstream output, the error's own message when it is
    worded with the project's formula (every permanent error), ``Type: message`` for an unexpected one."""
    name = context.stage.name
    try:
        return stage_function(context.stage.kind, context.spec.task)(context)
    except DamagedArtifact as exc:
        raise DamagedInput(name, exc) from exc
    except TrainerError:
        raise
    except (ValueError, OSError, RuntimeError) as exc:
        raise StageFailed(name, str(exc) if is_permanent(exc) else f"{type(exc).__name__}: {exc}") from exc


def _reusable(
    store: ExperimentStore, stage: Stage, keys: dict[Stage, str], sink: ProgressSink, *, owner: bool
) -> StageSummary | None:
    """The summary of the stage's finished output when it can be reused: intact, and every input it read
    unchanged since. A damaged or stale output is reported and discarded (by rank 0)."""
    key = keys[stage]
    try:
        summary = store.finished(stage, key)
        why = None if summary is None else _changed_input(store, stage, keys)
    except DamagedArtifact as exc:
        summary, why = None, f"{exc}; its output is damaged"
    if why is None:
        return summary
    if owner:
        sink.log(f"[{stage.name}] {why}, redoing the stage")
        store.discard(stage, key)
    return None


def _changed_input(store: ExperimentStore, stage: Stage, keys: dict[Stage, str]) -> str | None:
    """Why the finished stage's output is stale (an input it read changed since), or None."""
    record = store.record(stage, keys[stage])
    assert record is not None
    for name, fingerprint in record.inputs.items():
        upstream = Stage.parse(name)
        try:
            now = store.record(upstream, keys[upstream]) if upstream in keys else None
        except DamagedArtifact:
            continue  # the upstream is redone in its own turn; this output was made from intact files
        if now is not None and now.fingerprint != fingerprint:
            return f"its input {name} changed since it ran (it was redone)"
    return None


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
    """Ranks > 0 train in lockstep with rank 0 and share its checkpoints, but write into a private scratch
    folder, publish nothing and print no progress: rank 0 alone owns the stage's output and its lines.
    ``sink`` is rank 0's kind of sink; a helper rank reports into a silent one."""
    key = keys[stage]
    with (
        store.workspace(stage, key, exclusive=False) as shared,
        tempfile.TemporaryDirectory(prefix="ensemw2s-rank-") as scratch,
    ):
        workspace = StageWorkspace(Path(scratch), shared.checkpoints)
        quiet = SilentProgress()
        result = _call_stage_function(StageContext(manifest, stage, store, keys, workspace, quiet))
    return StageSummary(stage=stage.name, key=key, seconds=round(time.monotonic() - started, 3), metrics=result.metrics)


def write_termination_message(path: str | None, summary: StageSummary) -> None:
    """In a pod, leave the summary where Kubernetes picks it up for the operator (<= 4 KiB)."""
    if not path:
        return
    # Not in a pod, or a read-only path: the summary is in the store anyway.
    with contextlib.suppress(OSError):
        Path(path).write_text(summary.termination_message(), encoding="utf-8")
