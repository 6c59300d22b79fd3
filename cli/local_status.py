"""``w2sctl status --store ROOT``: a local run's status, read from its artifact store, as the cluster's model.

The store tells everything a status needs (:mod:`ensemw2s.trainer.store`): a stage with a ``stage.json``
completion record is done (its summary gives the duration and metrics); a stage with a ``<key>.partial``
folder started and did not finish: it is running while a process holds the folder's lock (the runner
takes an exclusive flock on it; ``ExperimentStore.is_running`` reads the kernel's lock table and never
takes the lock), else it was interrupted (killed, or it failed) and ``w2sctl run``
resumes it from its last checkpoint. The run's phase follows: Succeeded once the report is done, Running
while a stage runs, Suspended (stopped, resumable) when it is not running and not done, Pending before
any stage started. The result is an :class:`~ensemw2s.operator.status_model.ExperimentStatus`, shown by
the same view as a cluster experiment's.

Reads only. Object stores keep ``.partial`` folders on
the machine that runs the stage, so there only finished stages are seen.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ensemw2s.operator.status_model import (
    ExperimentStatus,
    Phase,
    StageCounts,
    StagePhase,
    StageStatus,
    StageSummaryStatus,
    bound_stages,
    pgr_text,
)
from ensemw2s.spec import ExperimentManifest, StageGraph, StageKind, build_stage_graph, load_manifest, parse_manifest
from ensemw2s.spec.results import ExperimentResults

from .errors import CliError
from .experiment import ExperimentView

if TYPE_CHECKING:
    from ensemw2s.trainer.store import ExperimentStore

SPEC_FILE = "spec.json"
RESULTS_FILE = "results.json"
INTERRUPTED = "Interrupted"


def local_view(target: str, root: str, namespace: str | None) -> ExperimentView:
    """The status of the local run ``target`` (its YAML file or its name) in the store ``root``."""
    try:
        from ensemw2s.trainer.store import ExperimentStore
    except ImportError as exc:
        raise CliError(
            f"status --store: needs the trainer package to read a store (got {exc}); pip install 'ensemw2s[train]'"
        ) from None
    manifest = _manifest(target, root, namespace, ExperimentStore)
    store = ExperimentStore(root, manifest.namespace, manifest.name)
    return ExperimentView(
        name=manifest.name,
        namespace=manifest.namespace,
        status=store_status(store, manifest),
        spec=manifest.spec,
        source=store.url,
    )


def store_status(store: ExperimentStore, manifest: ExperimentManifest) -> ExperimentStatus:
    """A local run's status from its store: what ``status --store`` shows and ``metrics serve --store`` exports."""
    from ensemw2s.trainer.errors import StoreError
    from ensemw2s.trainer.keys import stage_keys
    from ensemw2s.trainer.store import DamagedArtifact, flocked_files

    graph = build_stage_graph(manifest.spec)
    keys = stage_keys(manifest.spec)
    locks = flocked_files()
    entries: list[StageStatus] = []
    results: ExperimentResults | None = None
    for stage in graph.stages:
        try:
            record = store.record(stage, keys[stage])
        except (DamagedArtifact, StoreError) as exc:
            entries.append(StageStatus(name=stage.name, phase=StagePhase.FAILED, reason="Damaged", message=str(exc)))
            continue
        if record is not None:
            summary = record.summary
            entries.append(
                StageStatus(
                    name=stage.name,
                    phase=StagePhase.SUCCEEDED,
                    attempts=1,
                    summary=StageSummaryStatus(
                        seconds=summary.seconds, skipped=summary.skipped, metrics=summary.metrics
                    ),
                )
            )
            if stage.kind is StageKind.REPORT:
                results = _results(store, f"{store.stage_path(stage, keys[stage])}/{RESULTS_FILE}")
            continue
        if store.local and Path(store.full_path(store.partial_path(stage, keys[stage]))).is_dir():
            running = store.is_running(stage, keys[stage], locks)
            entries.append(
                StageStatus(
                    name=stage.name,
                    phase=StagePhase.RUNNING if running else StagePhase.SUSPENDED,
                    attempts=1,
                    reason=None if running else INTERRUPTED,
                )
            )
    return _status(graph, entries, results)


def _manifest(target: str, root: str, namespace: str | None, store_type: type[ExperimentStore]) -> ExperimentManifest:
    path = Path(target)
    if path.is_file():
        from .validate import in_namespace

        return in_namespace(load_manifest(path), path, namespace)
    store = store_type(root, namespace or "default", target)
    try:
        data = json.loads(store.fs.cat_file(store.full_path(SPEC_FILE)))
    except FileNotFoundError:
        raise CliError(
            f"{store.url}: no local run named {target} (got no {SPEC_FILE}); pass the experiment's YAML file, "
            "or its name with the -n and --store it ran with"
        ) from None
    return parse_manifest(data, f"{store.url}/{SPEC_FILE}")


def _results(store: ExperimentStore, relpath: str) -> ExperimentResults | None:
    try:
        return ExperimentResults.model_validate_json(store.fs.cat_file(store.full_path(relpath)))
    except (FileNotFoundError, ValueError):
        return None


def _status(graph: StageGraph, entries: list[StageStatus], results: ExperimentResults | None) -> ExperimentStatus:
    from ensemw2s.operator.plan import round_text  # the operator's rule for the Round column

    by_phase = {phase: [e.name for e in entries if e.phase is phase] for phase in StagePhase}
    succeeded, failed = by_phase[StagePhase.SUCCEEDED], by_phase[StagePhase.FAILED]
    running, stopped = by_phase[StagePhase.RUNNING], by_phase[StagePhase.SUSPENDED]
    report_done = "report" in succeeded
    if report_done:
        phase, message = Phase.SUCCEEDED, f"report ready; EnsemW2S PGR vs weak: {pgr_text(results) or 'n/a'}"
    elif failed:
        phase, message = Phase.FAILED, f"stage {failed[0]} is damaged; `w2sctl run FILE --redo {failed[0]}` redoes it"
    elif running:
        phase, message = Phase.RUNNING, None
    elif succeeded or stopped:
        phase, message = Phase.SUSPENDED, "not running; `w2sctl run FILE` resumes it"
    else:
        phase, message = Phase.PENDING, "no stage has started"
    active = running or stopped or failed
    kept, omitted = bound_stages(entries, graph.names())
    total = len(graph.stages)
    return ExperimentStatus(
        phase=phase,
        message=message,
        stage=active[-1] if active else None,
        round=round_text(graph, set(succeeded)),
        pgr=pgr_text(results),
        stages=kept,
        stages_omitted=omitted,
        stage_counts=StageCounts(
            total=total,
            waiting=total - len(entries),
            active=len(running),
            suspended=len(stopped),
            succeeded=len(succeeded),
            failed=len(failed),
        ),
        succeeded_stages=succeeded,
        failed_stages=failed,
        results=results,
    )
