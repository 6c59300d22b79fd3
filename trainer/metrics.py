"""Live training metrics of the running stage, for Prometheus.

The training loop reports every logging step to :func:`record_training`; the :class:`LiveTraining`
installed for the process (:func:`recording`) keeps the latest values of the running stage, and
:class:`TrainingCollector` turns them into metric families when Prometheus scrapes. Two ways to serve:

- a stage pod: :func:`serve_stage_metrics` (``python -m ensemw2s.trainer``) listens on
  ``$W2S_TRAINER_METRICS_PORT`` (the operator sets it and names the container port ``metrics``; unset or
  ``0``: no server), on rank 0 only, for the process's one stage;
- a local run: ``w2sctl run --metrics-port N`` registers the collector beside the experiments' one and
  wraps its progress sink in :class:`RecordingProgress`, which follows the stages as they start.

=============================================  =======  =====================================================
name                                           type     meaning
=============================================  =======  =====================================================
ensemw2s_training_step                         gauge    optimiser steps done by the current training run
ensemw2s_training_steps_planned                gauge    optimiser steps the current training run will take
ensemw2s_training_epoch                        gauge    epochs done (fractional)
ensemw2s_training_loss                         gauge    mean training loss over the last logging window
ensemw2s_training_learning_rate                gauge    learning rate after the last step
ensemw2s_training_examples_per_second          gauge    examples per second of the current training run
ensemw2s_training_tokens_per_second            gauge    non-padding tokens per second of the current run
ensemw2s_training_examples_total               counter  examples trained on by the stage (all its runs)
ensemw2s_training_tokens_total                 counter  non-padding tokens trained on by the stage
ensemw2s_training_gpu_memory_allocated_bytes   gauge    CUDA memory held by tensors (label ``device``)
ensemw2s_training_gpu_memory_peak_bytes        gauge    peak of the above since the process started
=============================================  =======  =====================================================

Every series has the labels ``namespace``, ``experiment``, ``stage`` (``weak-s42-r3``) and ``kind``
(prepare, weak, aggregate, strong, report); a stage's series exist from its first logging step until it
ends. A weak stage trains several models (its learner, the cross-fit folds), so ``step`` restarts.
prometheus_client is imported only when metrics are collected or served: the trainer runs without it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from ensemw2s.spec import ExperimentManifest, Stage, StageSummary, build_stage_graph
from ensemw2s.spec.contract import ENV_TRAINER_METRICS_PORT, TRAINER_METRICS_PORT

from .progress import ProgressSink

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

LABELS = ("namespace", "experiment", "stage", "kind")


class TrainingProgress(Protocol):
    """What the loop reports (:class:`~.training.loop.ProgressEvent`); a protocol keeps this module torch-free."""

    @property
    def step(self) -> int: ...
    @property
    def total_steps(self) -> int: ...
    @property
    def epoch(self) -> float: ...
    @property
    def loss(self) -> float: ...
    @property
    def learning_rate(self) -> float: ...
    @property
    def examples_per_second(self) -> float: ...
    @property
    def tokens_per_second(self) -> float: ...
    @property
    def new_examples(self) -> int: ...
    @property
    def new_tokens(self) -> int: ...


@dataclass(frozen=True)
class StageLabels:
    namespace: str
    experiment: str
    stage: str
    kind: str

    @classmethod
    def of(cls, manifest: ExperimentManifest, stage: Stage) -> StageLabels:
        return cls(manifest.namespace or "default", manifest.name, stage.name, stage.kind.value)

    def values(self) -> list[str]:
        return [self.namespace, self.experiment, self.stage, self.kind]


@dataclass(frozen=True)
class TrainingSnapshot:
    """The running stage's latest values; the totals add up over the stage's training runs."""

    labels: StageLabels
    step: int = 0
    steps_planned: int = 0
    epoch: float = 0.0
    loss: float = float("nan")
    learning_rate: float = 0.0
    examples_per_second: float = 0.0
    tokens_per_second: float = 0.0
    examples_total: int = 0
    tokens_total: int = 0
    reported: bool = False
    """False until the first logging step: no training series before it."""


class LiveTraining:
    """The latest training values of the stage this process runs; written by the loop, read by scrapes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: TrainingSnapshot | None = None

    def begin_stage(self, labels: StageLabels) -> None:
        with self._lock:
            if self._current is None or self._current.labels != labels:
                self._current = TrainingSnapshot(labels)

    def end_stage(self) -> None:
        with self._lock:
            self._current = None

    def observe(self, event: TrainingProgress) -> None:
        """One logging step of a training run; the totals add the examples and tokens since the previous one."""
        with self._lock:
            current = self._current
            if current is None:
                return
            self._current = replace(
                current,
                step=event.step,
                steps_planned=event.total_steps,
                epoch=event.epoch,
                loss=event.loss,
                learning_rate=event.learning_rate,
                examples_per_second=event.examples_per_second,
                tokens_per_second=event.tokens_per_second,
                examples_total=current.examples_total + event.new_examples,
                tokens_total=current.tokens_total + event.new_tokens,
                reported=True,
            )

    def snapshot(self) -> TrainingSnapshot | None:
        with self._lock:
            return self._current


_installed: LiveTraining | None = None


def record_training(event: TrainingProgress) -> None:
    """Called by the training loop on the main process at every logging step; a no-op unless recording."""
    live = _installed
    if live is not None:
        live.observe(event)


@contextmanager
def recording(live: LiveTraining) -> Iterator[LiveTraining]:
    """Send the training loop's logging steps to ``live`` while the block runs."""
    global _installed
    previous, _installed = _installed, live
    try:
        yield live
    finally:
        _installed = previous


class RecordingProgress:
    """A ProgressSink that forwards to ``inner`` and tells ``live`` which stage runs (local runs)."""

    def __init__(self, inner: ProgressSink, live: LiveTraining, manifest: ExperimentManifest) -> None:
        self.inner = inner
        self.live = live
        self._manifest = manifest
        self._graph = build_stage_graph(manifest.spec)

    def stage_started(self, stage: str, description: str) -> None:
        self.live.begin_stage(StageLabels.of(self._manifest, self._graph.by_name(stage)))
        self.inner.stage_started(stage, description)

    def advance(self, stage: str, done: int, total: int, detail: str = "") -> None:
        self.inner.advance(stage, done, total, detail)

    def stage_finished(self, stage: str, summary: StageSummary) -> None:
        self.live.end_stage()
        self.inner.stage_finished(stage, summary)

    def log(self, message: str) -> None:
        self.inner.log(message)


# -- exposition ------------------------------------------------------------------------------------


def gpu_memory() -> list[tuple[str, int, int]]:
    """``(device, allocated bytes, peak bytes)`` of each CUDA device this process uses; nothing without CUDA.

    Never initialises CUDA (a scrape must not): it reads only when torch is loaded and CUDA is up."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return []
    return [
        (str(index), int(torch.cuda.memory_allocated(index)), int(torch.cuda.max_memory_allocated(index)))
        for index in range(torch.cuda.device_count())
    ]


class TrainingCollector:
    """A prometheus_client collector of :class:`LiveTraining` (register it in a private registry)."""

    def __init__(self, live: LiveTraining, gpus: Callable[[], list[tuple[str, int, int]]] = gpu_memory) -> None:
        self.live = live
        self._gpus = gpus

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        current = self.live.snapshot()
        if current is None:
            return []
        values = current.labels.values()
        families: list[Any] = []
        if current.reported:
            gauges = [
                ("step", "Optimiser steps done by the stage's current training run.", current.step),
                ("steps_planned", "Optimiser steps the current training run takes.", current.steps_planned),
                ("epoch", "Epochs done by the current training run (fractional).", current.epoch),
                ("loss", "Mean training loss over the last logging window.", current.loss),
                ("learning_rate", "Learning rate after the last optimiser step.", current.learning_rate),
                (
                    "examples_per_second",
                    "Training examples per second of the current run.",
                    current.examples_per_second,
                ),
                ("tokens_per_second", "Non-padding tokens per second of the current run.", current.tokens_per_second),
            ]
            for name, documentation, value in gauges:
                family = GaugeMetricFamily(f"ensemw2s_training_{name}", documentation, labels=LABELS)
                family.add_metric(values, float(value))
                families.append(family)
            for name, documentation, count in [
                (
                    "examples",
                    "Training examples processed by the stage (all its training runs).",
                    current.examples_total,
                ),
                ("tokens", "Non-padding training tokens processed by the stage.", current.tokens_total),
            ]:
                counter = CounterMetricFamily(f"ensemw2s_training_{name}", documentation, labels=LABELS)
                counter.add_metric(values, float(count))
                families.append(counter)
        devices = self._gpus()
        if devices:
            allocated = GaugeMetricFamily(
                "ensemw2s_training_gpu_memory_allocated_bytes",
                "CUDA memory held by tensors of the stage's process.",
                labels=[*LABELS, "device"],
            )
            peak = GaugeMetricFamily(
                "ensemw2s_training_gpu_memory_peak_bytes",
                "Peak CUDA memory held by tensors since the process started.",
                labels=[*LABELS, "device"],
            )
            for device, now, most in devices:
                allocated.add_metric([*values, device], float(now))
                peak.add_metric([*values, device], float(most))
            families += [allocated, peak]
        return families


# -- serving ---------------------------------------------------------------------------------------


class MetricsServer:
    """A ``/metrics`` HTTP server on a thread, over a private registry of the given collectors."""

    def __init__(self, collectors: Iterable[Collector], port: int, host: str = "0.0.0.0") -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        registry = CollectorRegistry()
        for collector in collectors:
            registry.register(collector)
        self.registry = registry
        self._server, self._thread = start_http_server(port, addr=host, registry=registry)
        self.port: int = int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def metrics_port(environ: Mapping[str, str]) -> int | None:
    """The port ``$W2S_TRAINER_METRICS_PORT`` asks for; None when unset, empty or 0 (no server).

    A value that is not a port is a ValueError in the message formula."""
    text = environ.get(ENV_TRAINER_METRICS_PORT, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) > 65535:
        raise ValueError(
            f"{ENV_TRAINER_METRICS_PORT}: must be a port number 0-65535 (got {text!r}); "
            "set it to the container port named metrics, or 0 to serve no training metrics"
        )
    return int(text) or None


@contextmanager
def serve_stage_metrics(
    environ: Mapping[str, str], manifest: ExperimentManifest, stage: Stage, warn: Callable[[str], None]
) -> Iterator[LiveTraining | None]:
    """A stage pod's training metrics while the block runs: rank 0 serves on ``$W2S_TRAINER_METRICS_PORT``.

    Metrics never fail a stage: a bad port value, a busy port or a missing prometheus_client is one
    warning (``warn``) and the stage runs without them."""
    try:
        port = metrics_port(environ)
    except ValueError as exc:
        warn(f"warning: {exc}")
        port = None
    rank = environ.get("RANK", "0") or "0"
    if port is None or rank != "0":
        yield None
        return
    live = LiveTraining()
    live.begin_stage(StageLabels.of(manifest, stage))
    try:
        server: MetricsServer | None = MetricsServer([TrainingCollector(live)], port)
    except ImportError:
        warn(f"warning: {ENV_TRAINER_METRICS_PORT}={port}: prometheus_client is not installed; no training metrics")
        server = None
    except OSError as exc:
        warn(f"warning: {ENV_TRAINER_METRICS_PORT}={port}: cannot listen ({exc}); no training metrics")
        server = None
    try:
        with recording(live):
            yield live
    finally:
        if server is not None:
            server.close()


__all__ = [
    "ENV_TRAINER_METRICS_PORT",
    "LABELS",
    "TRAINER_METRICS_PORT",
    "LiveTraining",
    "MetricsServer",
    "RecordingProgress",
    "StageLabels",
    "TrainingCollector",
    "TrainingSnapshot",
    "gpu_memory",
    "metrics_port",
    "record_training",
    "recording",
    "serve_stage_metrics",
]
