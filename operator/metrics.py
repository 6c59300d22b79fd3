"""Prometheus metrics of the operator, on its own port, in a private registry.

=====================================  =========  ===========================================
name                                   type       labels
=====================================  =========  ===========================================
ensemw2s_experiments                   gauge      namespace, phase
ensemw2s_stage_duration_seconds        histogram  kind (prepare, weak, aggregate, strong, report)
ensemw2s_stage_retries_total           counter    reason (e.g. OOMKilled, Error, DeadlineExceeded)
ensemw2s_reconcile_total               counter    result (ok, rejected, error, gone)
ensemw2s_reconcile_duration_seconds    histogram  (none)
ensemw2s_experiment_pgr                gauge      namespace, experiment, baseline
=====================================  =========  ===========================================

Series of one experiment (its PGRs, its share of the phase gauge) are removed when the experiment
is deleted; no label carries a uid, so a re-created experiment continues the same series.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Mapping

from aiohttp import web
from ensemw2s.spec.results import PGRs
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

STAGE_BUCKETS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0)
RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class OperatorMetrics:
    """Every metric the operator exports, and the bookkeeping that keeps per-experiment series exact."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.experiments = Gauge(
            "ensemw2s_experiments",
            "Experiments known to the operator, by phase.",
            ["namespace", "phase"],
            registry=self.registry,
        )
        self.stage_duration = Histogram(
            "ensemw2s_stage_duration_seconds",
            "Wall time of finished stages, by stage kind.",
            ["kind"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.stage_retries = Counter(
            "ensemw2s_stage_retries",
            "Stage pod retries, by the reason the previous attempt failed.",
            ["reason"],
            registry=self.registry,
        )
        self.reconciles = Counter(
            "ensemw2s_reconcile", "Reconciliations of an experiment, by result.", ["result"], registry=self.registry
        )
        self.reconcile_duration = Histogram(
            "ensemw2s_reconcile_duration_seconds",
            "Time of one reconciliation (API calls included).",
            buckets=RECONCILE_BUCKETS,
            registry=self.registry,
        )
        self.pgr = Gauge(
            "ensemw2s_experiment_pgr",
            "Performance gap recovered, mean over seeds, by baseline.",
            ["namespace", "experiment", "baseline"],
            registry=self.registry,
        )
        self._phases: dict[tuple[str, str], str] = {}
        self._phase_series: set[tuple[str, str]] = set()
        self._pgr_series: dict[tuple[str, str], set[str]] = {}

    # -- per experiment ----------------------------------------------------------------------------

    def set_experiment(self, namespace: str, name: str, phase: str, pgrs: PGRs | None) -> None:
        """Record an experiment's phase and mean PGRs, one series per baseline (``w2s_vs_weak``, ...);
        an undefined PGR (n/a in the report) has no series."""
        self._phases[(namespace, name)] = phase
        self._refresh_phases()
        key = (namespace, name)
        values: Mapping[str, float | None] = {} if pgrs is None else pgrs.model_dump()
        defined = {baseline: value for baseline, value in values.items() if value is not None}
        present = set(defined)
        for baseline in self._pgr_series.get(key, set()) - present:
            self.pgr.remove(namespace, name, baseline)
        for baseline, value in defined.items():
            self.pgr.labels(namespace, name, baseline).set(value)
        if present:
            self._pgr_series[key] = present
        else:
            self._pgr_series.pop(key, None)

    def forget_experiment(self, namespace: str, name: str) -> None:
        """The experiment is deleted: drop its series."""
        self._phases.pop((namespace, name), None)
        self._refresh_phases()
        for baseline in self._pgr_series.pop((namespace, name), set()):
            self.pgr.remove(namespace, name, baseline)

    def _refresh_phases(self) -> None:
        counts = Tally((namespace, phase) for (namespace, _), phase in self._phases.items())
        namespaces = {namespace for namespace, _ in counts}
        phases = {phase for _, phase in counts} | {phase for _, phase in self._phase_series}
        for namespace, phase in list(self._phase_series):
            if namespace not in namespaces:
                self.experiments.remove(namespace, phase)
                self._phase_series.discard((namespace, phase))
        for namespace in namespaces:
            for phase in phases:
                self.experiments.labels(namespace, phase).set(counts.get((namespace, phase), 0))
                self._phase_series.add((namespace, phase))

    # -- events ------------------------------------------------------------------------------------

    def observe_stage(self, kind: str, seconds: float) -> None:
        self.stage_duration.labels(kind).observe(max(0.0, seconds))

    def count_retries(self, reason: str, retries: int = 1) -> None:
        if retries > 0:
            self.stage_retries.labels(reason or "Unknown").inc(retries)

    def observe_reconcile(self, result: str, seconds: float) -> None:
        self.reconciles.labels(result).inc()
        self.reconcile_duration.observe(max(0.0, seconds))

    # -- exposition --------------------------------------------------------------------------------

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsServer:
    """``/metrics`` (Prometheus text format) and ``/readyz`` on the operator's metrics port."""

    def __init__(self, metrics: OperatorMetrics, ready: Callable[[], bool]) -> None:
        self._metrics = metrics
        self._ready = ready
        self._runner: web.AppRunner | None = None

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._serve_metrics)
        app.router.add_get("/readyz", self._serve_ready)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _serve_metrics(self, request: web.Request) -> web.Response:
        response = web.Response(body=self._metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def _serve_ready(self, request: web.Request) -> web.Response:
        ready = self._ready()
        return web.Response(status=200 if ready else 503, text="ok\n" if ready else "starting\n")


__all__ = ["MetricsServer", "OperatorMetrics"]
