"""Local mode: walk the stage graph in order, in-process, over one store (``w2sctl run``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from ensemw2s.spec import (
    ExperimentManifest,
    SpecError,
    Stage,
    StageGraph,
    StageSummary,
    build_stage_graph,
    problem,
    validate_spec,
)

from .preflight import check_preflight
from .progress import LineProgress, ProgressSink
from .runtime import configure_runtime
from .stages.run import open_store, run_stage


@dataclass(frozen=True)
class ExperimentRun:
    manifest: ExperimentManifest
    store_url: str
    summaries: dict[str, StageSummary]

    @property
    def results_path(self) -> str:
        return f"{self.store_url}/results.json"

    @property
    def report_path(self) -> str:
        return f"{self.store_url}/report.md"


def run_experiment(
    manifest: ExperimentManifest,
    store_root: str,
    progress: ProgressSink | None = None,
    only: list[Stage] | None = None,
    fresh: bool = False,
    redo: Sequence[Stage] = (),
) -> ExperimentRun:
    """Run every stage (or ``only`` these) in graph order; stages already done are skipped.

    Rerunning after a crash therefore resumes: finished stages are skipped, a stage killed mid-training
    restarts from its last checkpoint. A finished stage whose files no longer match its record is redone
    (walking in graph order, a damaged stage is redone before anything reads it). ``redo`` runs these
    stages again, and every stage downstream of them; ``fresh`` deletes the experiment's store first.
    """
    validate_spec(manifest.spec)
    check_preflight(manifest.spec)  # data and model files, before any stage (DatasetError, ModelError)
    graph = build_stage_graph(manifest.spec)
    redone = stages_to_redo(graph, redo)
    sink = progress or LineProgress()
    configure_runtime(manifest.spec.runtime.threads)
    store = open_store(manifest, store_root)
    if fresh:
        store.remove()
    store.write_json("spec.json", manifest.to_json_dict())
    summaries: dict[str, StageSummary] = {}
    for stage in only or list(graph.stages):
        summaries[stage.name] = run_stage(manifest, stage, store_root, sink, redo=stage in redone)
        sink.stage_finished(stage.name, summaries[stage.name])
    return ExperimentRun(manifest, store.url, summaries)


def stages_to_redo(graph: StageGraph, redo: Sequence[Stage]) -> set[Stage]:
    """The stages ``redo`` names and every stage downstream of them; SpecError for a stage not in the graph."""
    redone: set[Stage] = set()
    for stage in redo:
        if stage not in graph.dependencies:
            raise SpecError(
                problem(
                    "redo", "must name stages of this experiment", stage.name, f"stages: {', '.join(graph.names())}"
                )
            )
        redone |= {stage, *graph.downstream(stage)}
    return redone


def default_store_root() -> str:
    return os.environ.get("W2S_STORE", "runs")
