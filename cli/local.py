"""Local commands: ``w2sctl run`` (the embedded default: no cluster); ``w2sctl validate`` is in :mod:`.validate`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from ensemw2s.spec import ExperimentManifest, Severity, Stage, StageGraph, load_manifest, semantic_problems

from .errors import CliError, ExitCode
from .output import OutputFormat
from .results_view import results_rows
from .state import State

if TYPE_CHECKING:
    from ensemw2s.trainer.progress import LineProgress, ProgressSink

    from .progress import RichProgress

STORE_HELP = "Artifact store root: a directory or an fsspec URL (env W2S_STORE, default ./runs)."


def run(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Experiment YAML.")],
    store: Annotated[str | None, typer.Option("--store", envvar="W2S_STORE", help=STORE_HELP)] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume/--fresh",
            help="--resume (default) reuses finished stages and checkpoints of an earlier or killed run; "
            "--fresh deletes the experiment's artifacts first.",
        ),
    ] = True,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="CPU threads for torch.")] = None,
    redo: Annotated[
        list[str] | None,
        typer.Option(
            "--redo",
            metavar="STAGE",
            help="Run this stage (e.g. weak-s1-r1) again, and every stage downstream of it; the other finished "
            "stages are reused. Repeatable.",
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=0,
            max=65535,
            metavar="PORT",
            help="Serve Prometheus metrics on this port while the run runs: the experiment (as `w2sctl metrics "
            "serve --store` does) and the live training metrics (loss, throughput, step). 0: any free port.",
        ),
    ] = None,
) -> None:
    """Run an experiment here, in-process, stage by stage (CPU or one GPU), and print its results."""
    from ensemw2s.spec import build_stage_graph
    from ensemw2s.trainer.errors import StageFailed, TrainerError
    from ensemw2s.trainer.runner import run_experiment

    from .validate import in_namespace

    state: State = ctx.obj
    state.note_unused_cluster_options("run")
    manifest = in_namespace(load_manifest(file), file, state.namespace)
    if threads is not None:
        spec = manifest.spec.model_copy(
            update={"runtime": manifest.spec.runtime.model_copy(update={"threads": threads})}
        )
        manifest = manifest.model_copy(update={"spec": spec})
    for warning in semantic_problems(manifest.spec):
        if warning.severity is Severity.WARNING:
            state.err.print(f"warning: {warning}", markup=False, highlight=False)
    root = store or "runs"
    graph = build_stage_graph(manifest.spec)
    redo_stages = [_graph_stage(graph, name) for name in redo or []]
    stages = len(graph.stages)
    from .progress import progress_for

    sink = progress_for(state.err, stages)
    try:
        with _reporting(manifest, root, metrics_port, state, sink) as reporting:
            outcome = run_experiment(manifest, root, reporting, fresh=not resume, redo=redo_stages)
    except StageFailed as exc:
        raise CliError(f"{manifest.name}: {exc}", ExitCode.EXPERIMENT_FAILED) from exc
    except TrainerError as exc:  # the store, not the experiment: e.g. the run is already going elsewhere
        raise CliError(f"{manifest.name}: {exc}") from exc
    skipped = sum(1 for s in outcome.summaries.values() if s.skipped)
    if skipped:
        state.err.print(
            f"{skipped} of {stages} stages were already done and reused (--redo STAGE to redo one, --fresh for all)"
        )
    from ensemw2s.spec.results import ExperimentResults

    results = ExperimentResults.model_validate(_read_results(outcome.results_path))
    state.emit(results_rows(results))
    if state.output in (OutputFormat.TABLE, OutputFormat.WIDE):
        state.err.print(
            f"report: {outcome.report_path} (results.json and plots beside it)", soft_wrap=True, highlight=False
        )


@contextmanager
def _reporting(
    manifest: ExperimentManifest, root: str, port: int | None, state: State, sink: RichProgress | LineProgress
) -> Iterator[ProgressSink]:
    """The run's progress sink; with ``--metrics-port`` the run's metrics are served while it runs (the port is
    taken before any work), and the sink also tells the training metrics which stage runs."""
    if port is None:
        with sink:
            yield sink
        return
    from ensemw2s.trainer.metrics import RecordingProgress

    from .metrics import serve_run_metrics

    with serve_run_metrics(manifest, root, port, state) as live, sink:
        yield RecordingProgress(sink, live, manifest)


def _graph_stage(graph: StageGraph, name: str) -> Stage:
    """The stage ``--redo`` names; a usage error listing the experiment's stages otherwise."""
    try:
        return graph.by_name(name)
    except KeyError:
        raise typer.BadParameter(
            f"not a stage of this experiment (got {name!r}); stages: {', '.join(graph.names())}",
            param_hint="'--redo'",
        ) from None


def _read_results(path: str) -> dict[str, object]:
    import json

    import fsspec

    with fsspec.open(path, "r") as fh:
        data: dict[str, object] = json.load(fh)
    return data


def register(app: typer.Typer) -> None:
    app.command()(run)
