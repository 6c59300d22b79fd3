"""Experiments as Prometheus metrics: read from a cluster's status or from local artifact stores.

Both sources give the same typed :class:`ExportedExperiment`: the spec and the status model
(:class:`~ensemw2s.operator.status_model.ExperimentStatus`, results as
:class:`~ensemw2s.spec.results.ExperimentResults`); on a cluster the operator's status, for a local run one
built from the stage records (``stage.json``) of its store. :class:`ExperimentCollector` turns them into
metric families at scrape time, in a private registry. The names are not the operator's
(``docs/operator.md``), so both can be scraped by one Prometheus:

=================================================  =====  =========================================================
name                                               type   labels (besides namespace, experiment)
=================================================  =====  =========================================================
ensemw2s_experiment_phase                          gauge  phase: 1 for the current phase, 0 for the others
ensemw2s_experiment_stages                         gauge  state: waiting, active, suspended, succeeded, failed
ensemw2s_experiment_stage_duration_seconds         gauge  stage, kind: a finished stage's wall time (running: so far)
ensemw2s_experiment_weak_rounds                    gauge  (none): spec.weak.rounds
ensemw2s_experiment_weak_rounds_done               gauge  seed: finished weak rounds of the seed
ensemw2s_weak_round_error_ratio                    gauge  seed, round: the learner's weighted error eps
ensemw2s_weak_round_alpha                          gauge  seed, round: its SAMME weight (no series when undefined)
ensemw2s_report_accuracy_ratio                     gauge  model: hard-test accuracy, mean over seeds
ensemw2s_report_pgr                                gauge  baseline: performance gap recovered, mean over seeds
ensemw2s_experiment_status_update_timestamp_seconds gauge (none): when the status (or store) last changed
ensemw2s_exporter_source_up                        gauge  source (cluster, store): 1 when the last read worked
=================================================  =====  =========================================================

A value that is not defined (an n/a PGR, an accuracy not measured) has no series. A cluster's status keeps
details of at most 64 stages (``status.stages``): durations, eps and alpha of the others are not exported.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ensemw2s.operator.status_model import (
    ExperimentStatus,
    Phase,
    StagePhase,
    StageStatus,
    parse_status,
    parse_time,
)
from ensemw2s.spec import ExperimentSpec, SpecError, StageKind, build_stage_graph, parse_manifest, parse_spec
from prometheus_client.core import GaugeMetricFamily, Metric

EXPERIMENT_LABELS = ("namespace", "experiment")


@dataclass(frozen=True)
class ExportedExperiment:
    """One experiment as the exporter reads it: its typed spec (None when invalid) and typed status."""

    namespace: str
    name: str
    spec: ExperimentSpec | None
    status: ExperimentStatus
    updated: float | None = None
    """Unix time of the last status (or store) change."""


# -- the collector ---------------------------------------------------------------------------------


class ExperimentCollector:
    """A prometheus_client collector: calls ``read`` at every scrape and exports what it returns.

    ``read`` raises to say the source cannot be read: ``ensemw2s_exporter_source_up`` is then 0, the
    error is printed once to stderr (again only after a success), and no experiment series are exported."""

    def __init__(
        self,
        source: str,
        read: Callable[[], Sequence[ExportedExperiment]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self._read = read
        self._clock = clock
        self._failing: str | None = None

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "ensemw2s_exporter_source_up", "1 when the exporter's last read of its source worked.", labels=["source"]
        )
        try:
            experiments = list(self._read())
        except Exception as exc:  # a scrape reports the failure; the exporter keeps running
            message = str(exc) or type(exc).__name__
            if message != self._failing:
                print(f"error: reading the {self.source}: {message}", file=sys.stderr, flush=True)
            self._failing = message
            up.add_metric([self.source], 0.0)
            return [up]
        if self._failing is not None:
            print(f"reading the {self.source} works again", file=sys.stderr, flush=True)
            self._failing = None
        up.add_metric([self.source], 1.0)
        return [up, *experiment_families(experiments, self._clock())]


def _gauge(name: str, documentation: str, *labels: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=[*EXPERIMENT_LABELS, *labels])


def _seconds(entry: StageStatus, now: float) -> float | None:
    """A stage's wall time: its summary's, else completion (or now) minus start."""
    if entry.summary is not None:
        return entry.summary.seconds
    started, ended = _timestamp(entry.start_time), _timestamp(entry.completion_time)
    if started is None:
        return None
    return max(0.0, (ended if ended is not None else now) - started)


def experiment_families(experiments: Sequence[ExportedExperiment], now: float) -> list[GaugeMetricFamily]:
    """The metric families of these experiments (see the module's table)."""
    phase = _gauge("ensemw2s_experiment_phase", "1 for the experiment's current phase, 0 for the others.", "phase")
    stages = _gauge("ensemw2s_experiment_stages", "Stages of the experiment by state.", "state")
    duration = _gauge(
        "ensemw2s_experiment_stage_duration_seconds",
        "Wall time of a finished stage (of a running one: so far).",
        "stage",
        "kind",
    )
    rounds = _gauge("ensemw2s_experiment_weak_rounds", "Weak rounds the experiment trains per seed (spec.weak.rounds).")
    done = _gauge("ensemw2s_experiment_weak_rounds_done", "Finished weak rounds of a seed.", "seed")
    error = _gauge("ensemw2s_weak_round_error_ratio", "Weighted error eps of a round's weak learner.", "seed", "round")
    alpha = _gauge("ensemw2s_weak_round_alpha", "SAMME weight alpha of a round's weak learner.", "seed", "round")
    accuracy = _gauge("ensemw2s_report_accuracy_ratio", "Hard-test accuracy, mean over seeds, by model.", "model")
    pgr = _gauge("ensemw2s_report_pgr", "Performance gap recovered, mean over seeds, by baseline.", "baseline")
    updated = _gauge(
        "ensemw2s_experiment_status_update_timestamp_seconds", "Unix time of the last status (or store) change."
    )
    for experiment in experiments:
        key = [experiment.namespace, experiment.name]
        status = experiment.status
        for value in Phase:
            phase.add_metric([*key, value.value], 1.0 if status.phase is value else 0.0)
        for state, count in status.stage_counts.model_dump().items():
            if state != "total":
                stages.add_metric([*key, state], float(count))
        if experiment.updated is not None:
            updated.add_metric(key, experiment.updated)
        if status.results is not None:
            for model, value in status.results.mean.model_dump().items():
                if value is not None:
                    accuracy.add_metric([*key, model], value)
            for baseline, value in status.results.mean_pgr.model_dump().items():
                if value is not None:
                    pgr.add_metric([*key, baseline], value)
        if experiment.spec is None:
            continue  # an invalid spec: no stage graph to read stage names against
        graph = build_stage_graph(experiment.spec)
        known = {stage.name: stage for stage in graph.stages}
        rounds.add_metric(key, float(experiment.spec.weak.rounds))
        succeeded = set(status.succeeded_stages)
        for seed in experiment.spec.seeds:
            finished = [s for s in graph.stages if s.kind is StageKind.WEAK and s.seed == seed and s.name in succeeded]
            done.add_metric([*key, str(seed)], float(len(finished)))
        for entry in status.stages:
            stage = known.get(entry.name)
            if stage is None:
                continue
            seconds = _seconds(entry, now)
            if seconds is not None:
                duration.add_metric([*key, stage.name, stage.kind.value], seconds)
            if stage.kind is StageKind.WEAK and entry.phase is StagePhase.SUCCEEDED and entry.summary is not None:
                where = [*key, str(stage.seed), str(stage.round)]
                metrics = entry.summary.metrics
                if "eps" in metrics:
                    error.add_metric(where, metrics["eps"])
                if "alpha" in metrics:
                    alpha.add_metric(where, metrics["alpha"])
    return [phase, stages, duration, rounds, done, error, alpha, accuracy, pgr, updated]


# -- from a cluster --------------------------------------------------------------------------------


def _timestamp(text: str | None) -> float | None:
    moment = parse_time(text)
    return None if moment is None else moment.timestamp()


def status_updated(obj: Mapping[str, Any], status: ExperimentStatus) -> float | None:
    """When the status was last written: the status subresource's managedFields time, else the newest
    condition or stage time."""
    times = [
        _timestamp(entry.get("time"))
        for entry in obj.get("metadata", {}).get("managedFields") or []
        if entry.get("subresource") == "status"
    ]
    if not any(t is not None for t in times):
        times = [_timestamp(c.last_transition_time) for c in status.conditions]
        times += [_timestamp(s.completion_time or s.start_time) for s in status.stages]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def experiment_from_object(obj: Mapping[str, Any]) -> ExportedExperiment:
    """An experiment custom object, as the API server returns it."""
    metadata = obj.get("metadata") or {}
    status = parse_status(obj.get("status"))
    try:
        spec: ExperimentSpec | None = parse_spec(obj.get("spec"))
    except SpecError:
        spec = None
    return ExportedExperiment(
        namespace=str(metadata.get("namespace") or "default"),
        name=str(metadata.get("name") or ""),
        spec=spec,
        status=status,
        updated=status_updated(obj, status),
    )


def cluster_reader(list_objects: Callable[[], Sequence[Mapping[str, Any]]]) -> Callable[[], list[ExportedExperiment]]:
    return lambda: [experiment_from_object(obj) for obj in list_objects()]


# -- from local artifact stores --------------------------------------------------------------------


def store_experiments(root: str) -> list[tuple[str, str]]:
    """``(namespace, name)`` of every experiment with a ``spec.json`` under ``root``."""
    import fsspec

    fs, base = fsspec.core.url_to_fs(root)
    found = []
    for path in sorted(fs.glob(f"{base.rstrip('/')}/*/*/spec.json")):
        parts = str(path).rstrip("/").split("/")
        found.append((parts[-3], parts[-2]))
    return found


def experiment_from_store(root: str, namespace: str, name: str) -> ExportedExperiment:
    """A local run from its store, as a status: the one ``w2sctl status --store`` shows
    (:func:`~ensemw2s.cli.local_status.store_status`), updated when its newest completion record or running
    stage's folder changed."""
    from ensemw2s.trainer.keys import stage_keys
    from ensemw2s.trainer.store import STAGE_FILE, ExperimentStore

    from .local_status import store_status

    store = ExperimentStore(root, namespace, name)
    manifest = parse_manifest(_read_json(store, "spec.json"), source=f"{store.url}/spec.json")
    status = store_status(store, manifest)
    keys = stage_keys(manifest.spec)
    times = [_mtime(store, f"{store.stage_path(stage, key)}/{STAGE_FILE}") for stage, key in keys.items()]
    times += [_mtime(store, store.partial_path(stage, key)) for stage, key in keys.items()]
    known = [t for t in times if t > 0]
    return ExportedExperiment(namespace, name, manifest.spec, status, max(known) if known else None)


def _read_json(store: Any, relpath: str) -> Any:
    import json

    return json.loads(store.fs.cat_file(store.full_path(relpath)))


def _mtime(store: Any, relpath: str) -> float:
    """Modification time of a store path in Unix seconds; 0 where the file system does not say."""
    try:
        info = store.fs.info(store.full_path(relpath))
    except OSError:
        return 0.0
    value = info.get("mtime", info.get("LastModified", info.get("updated")))
    if isinstance(value, datetime):
        return value.replace(tzinfo=value.tzinfo or UTC).timestamp()
    return float(value) if isinstance(value, int | float) else 0.0


def store_reader(root: str, only: Sequence[tuple[str, str]] | None = None) -> Callable[[], list[ExportedExperiment]]:
    """The experiments under ``root`` (or those of ``only`` that have started), read again at every call."""

    def read() -> list[ExportedExperiment]:
        found = store_experiments(root)
        chosen = found if only is None else [entry for entry in only if entry in set(found)]
        return [experiment_from_store(root, namespace, name) for namespace, name in chosen]

    return read


__all__ = [
    "ExperimentCollector",
    "ExportedExperiment",
    "cluster_reader",
    "experiment_families",
    "experiment_from_object",
    "experiment_from_store",
    "status_updated",
    "store_experiments",
    "store_reader",
]
