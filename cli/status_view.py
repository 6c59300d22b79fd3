"""Experiments as rows for the output sink: ``list``, ``status`` (one or all) and ``get`` (the stage tree).

The same views serve a cluster experiment and a local run (:class:`~.experiment.ExperimentView`), so
``status`` means one thing in both modes. Durations are the stage summary's wall time when the stage
reported one, else the time between its start and its end (or now, while it runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ensemw2s.operator.status_model import StageStatus, parse_time
from ensemw2s.spec.results_text import format_accuracy, format_pgr

from .experiment import ExperimentView, object_name
from .output import Rows

NONE = "-"


def duration_text(seconds: float | None) -> str:
    """``42s``, ``3m07s``, ``2h05m``; ``-`` when unknown."""
    if seconds is None:
        return NONE
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def age_text(since: datetime | None, now: datetime) -> str:
    if since is None:
        return NONE
    seconds = int(max(0.0, (now - since).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def stage_seconds(entry: StageStatus, now: datetime) -> float | None:
    if entry.summary is not None and not entry.summary.skipped:
        return entry.summary.seconds
    start = parse_time(entry.start_time)
    end = parse_time(entry.completion_time) or (now if entry.phase.value == "Running" else None)
    return None if start is None or end is None else max(0.0, (end - start).total_seconds())


def metrics_text(entry: StageStatus | None) -> str:
    if entry is None or entry.summary is None or not entry.summary.metrics:
        return NONE
    return " ".join(f"{key}={value:.3g}" for key, value in sorted(entry.summary.metrics.items()))


def _raw(view: ExperimentView) -> dict[str, Any]:
    return {"metadata": {"name": view.name, "namespace": view.namespace}, "status": view.status.to_json_dict()}


def list_rows(views: Sequence[ExperimentView], *, all_namespaces: bool, now: datetime | None = None) -> Rows:
    """``w2sctl list``: the CRD's printer columns (``kubectl get w2sx``), one line per experiment."""
    now = now or datetime.now(UTC)
    rows = [
        [
            v.name,
            v.status.phase.value,
            v.status.stage or NONE,
            v.status.round or NONE,
            v.status.pgr or NONE,
            age_text(v.created, now),
        ]
        for v in views
    ]
    columns = ["name", "phase", "stage", "round", "pgr", "age"]
    if all_namespaces:
        columns.insert(0, "namespace")
        rows = [[v.namespace, *row] for v, row in zip(views, rows, strict=True)]
    counts = [v.status.stage_counts for v in views]
    return Rows(
        columns=columns,
        rows=rows,
        wide_columns=["stages done", "message"],
        wide_rows=[[f"{c.succeeded}/{c.total}", v.status.message or ""] for c, v in zip(counts, views, strict=True)],
        names=[object_name(v.name) for v in views],
        raw={"items": [v.body or _raw(v) for v in views]},
    )


def status_rows(view: ExperimentView, now: datetime | None = None) -> Rows:
    """``w2sctl status NAME``: phase, round, PGR, then each stage with details (phase, attempts, duration,
    reason), then the results so far."""
    now = now or datetime.now(UTC)
    status = view.status
    entries = list(status.stages)
    rows = [
        [
            e.name,
            e.phase.value,
            str(e.attempts) if e.attempts else NONE,
            duration_text(stage_seconds(e, now)),
            e.reason or "",
        ]
        for e in entries
    ]
    title = headline(view)
    footer: list[str] = [] if entries else ["no stage has started yet"]
    if status.message:
        footer.append(f"message: {status.message}")
    if status.stages_omitted:
        footer.append(f"{status.stages_omitted} more stages not shown (`w2sctl get {view.name}` lists every stage)")
    footer += results_lines(view)
    failed = [e for e in entries if e.message]
    footer += [f"{e.name} last log lines:\n  " + e.message.replace("\n", "\n  ") for e in failed if e.message]
    return Rows(
        columns=["stage", "phase", "attempts", "duration", "reason"],
        rows=rows,
        wide_columns=["retries", "job", "metrics"],
        wide_rows=[[str(e.retries), e.job or NONE, metrics_text(e)] for e in entries],
        names=[object_name(view.name)],
        raw=_raw(view),
        title=title,
        footer=([""] if footer else []) + footer,
    )


def headline(view: ExperimentView) -> str:
    """``default/exp: Running, stage weak-s1-r1, round 1/2, PGR -, 3/6 stages done``."""
    status = view.status
    graph = view.graph()
    total = status.stage_counts.total or (len(graph.stages) if graph is not None else 0)
    text = (
        f"{view.namespace}/{view.name}: {status.phase.value}, stage {status.stage or NONE}, round "
        f"{status.round or NONE}, PGR {status.pgr or NONE}, {len(status.succeeded_stages)}/{total} stages done"
    )
    return text if view.source == "cluster" else f"{text}; local run in {view.source}"


def results_lines(view: ExperimentView) -> list[str]:
    """The results so far: the report's accuracies and PGRs once it ran (``w2sctl results`` has the table)."""
    results = view.status.results
    if results is None:
        return []
    mean, pgr = results.mean, results.mean_pgr
    return [
        f"results: PGR EnsemW2S vs weak {format_pgr(pgr.ensemw2s_vs_weak)}, W2S vs weak {format_pgr(pgr.w2s_vs_weak)}"
        f", EnsemW2S vs ensemble {format_pgr(pgr.ensemw2s_vs_ensemble)}; hard-test {results.metric.label} weak "
        f"{format_accuracy(mean.weak)}, EnsemW2S {format_accuracy(mean.ensemw2s)}, ceiling {format_accuracy(mean.ceiling)}"
        f" (`w2sctl results {view.name}` for the table)"
    ]


def tree_rows(view: ExperimentView, now: datetime | None = None) -> Rows:
    """``w2sctl get NAME``: every stage of the graph, grouped by seed, with its phase and what it needs."""
    now = now or datetime.now(UTC)
    graph = view.graph()
    entries = {e.name: e for e in view.status.stages}
    rows: list[list[str]] = []
    wide: list[list[str]] = []
    if graph is not None:
        seeds = list(dict.fromkeys(s.seed for s in graph.stages if s.seed is not None))
        groups: list[tuple[str, list[Any]]] = [
            (f"seed {seed}", [s for s in graph.stages if s.seed == seed]) for seed in seeds
        ]
        groups.append(("", [s for s in graph.stages if s.seed is None]))
        for index, (label, stages) in enumerate(groups):
            last_group = index == len(groups) - 1
            if label:
                rows.append([("└── " if last_group else "├── ") + label, "", "", "", ""])
                wide.append(["", "", ""])
            for position, stage in enumerate(stages):
                branch = "└── " if position == len(stages) - 1 else "├── "
                prefix = (("    " if last_group else "│   ") + branch) if label else ("└── " if last_group else "├── ")
                entry = entries.get(stage.name)
                rows.append(
                    [
                        prefix + stage.name,
                        view.stage_phase(stage.name),
                        str(entry.attempts) if entry is not None and entry.attempts else NONE,
                        duration_text(stage_seconds(entry, now)) if entry is not None else NONE,
                        (entry.reason or "") if entry is not None else "",
                    ]
                )
                wide.append(
                    [
                        ",".join(d.name for d in graph.dependencies[stage]) or NONE,
                        (entry.job or NONE) if entry is not None else NONE,
                        metrics_text(entry),
                    ]
                )
    status = view.status
    title = headline(view)
    footer = [] if graph is not None else ["the spec does not parse: no stage graph (see the message)"]
    if status.message:
        footer.append(f"message: {status.message}")
    footer += results_lines(view)
    return Rows(
        columns=["stage", "phase", "attempts", "duration", "reason"],
        rows=rows,
        wide_columns=["needs", "job", "metrics"],
        wide_rows=wide,
        names=[object_name(view.name)],
        raw=view.body or _raw(view),
        title=title,
        footer=([""] if footer else []) + footer,
    )
