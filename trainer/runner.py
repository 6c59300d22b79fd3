"""Local mode: walk the stage graph in order, in-process, over one store (``w2sctl run``)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ensemw2s.spec import ExperimentManifest, Stage, StageSummary, build_stage_graph, validate_spec

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
) -> ExperimentRun:
    """Run every stage (or ``only`` these) in graph order; stages already done are skipped.

    Rerunning after a crash therefore resumes: finished stages are skipped, a stage killed mid-training
    restarts from its last checkpoint. ``fresh`` deletes the experiment's store first.
    """
    validate_spec(manifest.spec)
    sink = progress or LineProgress()
    configure_runtime(manifest.spec.runtime.threads)
    store = open_store(manifest, store_root)
    if fresh:
        store.remove()
    store.write_json("spec.json", manifest.to_json_dict())
    summaries: dict[str, StageSummary] = {}
    for stage in only or list(build_stage_graph(manifest.spec).stages):
        summaries[stage.name] = run_stage(manifest, stage, store_root, sink)
        sink.stage_finished(stage.name, summaries[stage.name])
    return ExperimentRun(manifest, store.url, summaries)


def default_store_root() -> str:
    return os.environ.get("W2S_STORE", "runs")
