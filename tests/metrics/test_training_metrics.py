"""Live training metrics (``ensemw2s.trainer.metrics``): what the loop reports, what a scrape shows, how a
stage pod serves them, and the operator's side of the contract (env var and container port)."""

from __future__ import annotations

import socket
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from ensemw2s.operator.jobs import build_stage_job
from ensemw2s.spec import ExperimentManifest, StageKind, build_stage_graph, parse_manifest
from ensemw2s.trainer import metrics
from ensemw2s.trainer.metrics import (
    LiveTraining,
    RecordingProgress,
    StageLabels,
    TrainingCollector,
    metrics_port,
    record_training,
    recording,
    serve_stage_metrics,
)
from ensemw2s.trainer.progress import SilentProgress
from ensemw2s.trainer.training import ProgressEvent, TrainConfig, train_classifier
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

LABELS = StageLabels("team-a", "exp", "weak-s1-r0", "weak")


def event(step: int, examples: int = 16, tokens: int = 100) -> ProgressEvent:
    return ProgressEvent(
        step=step,
        total_steps=10,
        epoch=step / 5,
        loss=0.5,
        learning_rate=1e-3,
        examples_per_second=100.0,
        tokens_per_second=900.0,
        new_examples=examples,
        new_tokens=tokens,
    )


def scrape(*collectors: object) -> dict[str, float]:
    registry = CollectorRegistry()
    for collector in collectors:
        registry.register(collector)  # type: ignore[arg-type]
    return {
        sample.name + str(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }


def values(samples: dict[str, float], name: str) -> list[float]:
    return [value for key, value in samples.items() if key.split("[")[0] == name]


@pytest.fixture
def manifest(tiny_data: dict[str, object]) -> ExperimentManifest:
    return parse_manifest({**tiny_data, "metadata": {"name": "exp", "namespace": "team-a"}})


def test_no_series_before_the_first_logging_step_and_after_the_stage() -> None:
    live = LiveTraining()
    assert scrape(TrainingCollector(live, gpus=list)) == {}
    live.begin_stage(LABELS)
    assert scrape(TrainingCollector(live, gpus=list)) == {}
    live.observe(event(5))
    assert values(scrape(TrainingCollector(live, gpus=list)), "ensemw2s_training_step") == [5.0]
    live.end_stage()
    assert scrape(TrainingCollector(live, gpus=list)) == {}


def test_totals_add_up_over_the_training_runs_of_a_stage() -> None:
    """A weak stage trains several models; each run's step restarts, the stage's counters do not."""
    live = LiveTraining()
    live.begin_stage(LABELS)
    for step in (5, 10, 5, 10):  # two runs of two logging steps
        live.observe(event(step, examples=16, tokens=100))
    samples = scrape(TrainingCollector(live, gpus=list))
    assert values(samples, "ensemw2s_training_examples_total") == [64.0]
    assert values(samples, "ensemw2s_training_tokens_total") == [400.0]
    assert values(samples, "ensemw2s_training_step") == [10.0]
    [key] = [k for k in samples if k.startswith("ensemw2s_training_loss[")]
    assert "('experiment', 'exp'), ('kind', 'weak'), ('namespace', 'team-a'), ('stage', 'weak-s1-r0')" in key


def test_the_exposition_passes_promtool(check_exposition: Callable[[bytes], None]) -> None:
    live = LiveTraining()
    live.begin_stage(LABELS)
    live.observe(event(5))
    registry = CollectorRegistry()
    registry.register(TrainingCollector(live, gpus=lambda: [("0", 2**30, 2**31)]))
    text = generate_latest(registry)
    check_exposition(text)
    assert b'ensemw2s_training_gpu_memory_peak_bytes{device="0",experiment="exp"' in text


def test_gpu_memory_is_read_only_where_cuda_is_up() -> None:
    """A scrape never initialises CUDA: on this CPU machine (or before the stage used a GPU) nothing is read."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        assert metrics.gpu_memory()
    else:
        assert metrics.gpu_memory() == []


def test_the_loop_reports_examples_and_tokens_to_the_recorder(task_factory_tiny: Callable[..., object]) -> None:
    texts, encoded, targets, loaded = task_factory_tiny()
    live = LiveTraining()
    live.begin_stage(LABELS)
    events: list[ProgressEvent] = []
    config = TrainConfig(epochs=2, batch_size=16, threads=1, log_every_steps=5, max_length=32)
    with recording(live):
        train_classifier(loaded.model, encoded, targets, config, on_progress=events.append)
    record_training(events[-1])  # outside recording: nowhere to go, no error
    assert [e.step for e in events] == [5, 6]
    assert sum(e.new_examples for e in events) == 2 * len(texts)
    real_tokens = int(encoded.lengths.sum())  # padding is not counted; each example is seen twice
    assert sum(e.new_tokens for e in events) == 2 * real_tokens
    assert all(e.tokens_per_second > 0 for e in events)
    snapshot = live.snapshot()
    assert snapshot is not None
    assert (snapshot.examples_total, snapshot.tokens_total) == (2 * len(texts), 2 * real_tokens)


@pytest.fixture
def task_factory_tiny() -> Callable[..., object]:
    from ensemw2s.trainer.models import load_classifier
    from ensemw2s.trainer.training import encode_texts, one_hot_targets

    def make() -> tuple[list[str], object, np.ndarray, object]:
        rng = np.random.default_rng(0)
        texts = [
            " ".join(rng.choice(["good", "bad", "the", "movie", "plot"], int(rng.integers(2, 12)))) for _ in range(48)
        ]
        labels = np.array([int("good" in text) for text in texts])
        loaded = load_classifier("tiny-weak", 2, texts, seed=0)
        return texts, encode_texts(loaded.tokenizer, texts, 32), one_hot_targets(labels, 2), loaded

    return make


def test_a_local_runs_sink_follows_the_stages(manifest: ExperimentManifest) -> None:
    live = LiveTraining()
    sink = RecordingProgress(SilentProgress(), live, manifest)
    sink.stage_started("weak-s1-r2", "training")
    snapshot = live.snapshot()
    assert snapshot is not None and snapshot.labels == StageLabels("team-a", "exp", "weak-s1-r2", "weak")
    from ensemw2s.spec import StageSummary

    sink.stage_finished("weak-s1-r2", StageSummary(stage="weak-s1-r2", key="k", seconds=1.0))
    assert live.snapshot() is None


@pytest.mark.parametrize(("value", "port"), [(None, None), ("", None), ("0", None), ("9110", 9110), (" 8000 ", 8000)])
def test_the_port_variable(value: str | None, port: int | None) -> None:
    environ = {} if value is None else {metrics.ENV_TRAINER_METRICS_PORT: value}
    assert metrics_port(environ) == port


@pytest.mark.parametrize("value", ["http", "-1", "70000", "91.1"])
def test_a_bad_port_variable_is_named_in_the_message_formula(value: str) -> None:
    with pytest.raises(
        ValueError, match=rf"^W2S_TRAINER_METRICS_PORT: must be a port number 0-65535 \(got '{value}'\); "
    ):
        metrics_port({metrics.ENV_TRAINER_METRICS_PORT: value})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stage(manifest: ExperimentManifest, name: str):
    return build_stage_graph(manifest.spec).by_name(name)


def test_a_stage_pod_serves_its_training_metrics_on_rank_0(
    manifest: ExperimentManifest, check_exposition: Callable[[bytes], None]
) -> None:
    port = free_port()
    warnings: list[str] = []
    environ = {metrics.ENV_TRAINER_METRICS_PORT: str(port), "RANK": "0"}
    with serve_stage_metrics(environ, manifest, stage(manifest, "strong-s1-w2s"), warnings.append) as live:
        assert live is not None
        record_training(event(5))
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    check_exposition(body)
    assert (
        b'ensemw2s_training_step{experiment="exp",kind="strong",namespace="team-a",stage="strong-s1-w2s"} 5.0' in body
    )
    assert warnings == []
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1)  # closed with the stage


@pytest.mark.parametrize(
    ("environ", "warning"),
    [
        ({metrics.ENV_TRAINER_METRICS_PORT: "9110", "RANK": "1"}, None),  # rank 0 alone reports the training
        ({}, None),  # not asked for (a local `python -m ensemw2s.trainer`)
        ({metrics.ENV_TRAINER_METRICS_PORT: "0"}, None),  # switched off
        ({metrics.ENV_TRAINER_METRICS_PORT: "x"}, "warning: W2S_TRAINER_METRICS_PORT: must be a port number"),
    ],
)
def test_no_server_without_a_port_or_off_rank_0(
    manifest: ExperimentManifest, environ: dict[str, str], warning: str | None
) -> None:
    warnings: list[str] = []
    with serve_stage_metrics(environ, manifest, stage(manifest, "weak-s1-r0"), warnings.append) as live:
        assert live is None
    assert [w[: len(warning)] for w in warnings] == ([] if warning is None else [warning])


def test_a_busy_port_is_a_warning_and_the_stage_runs(manifest: ExperimentManifest) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        warnings: list[str] = []
        environ = {metrics.ENV_TRAINER_METRICS_PORT: str(port)}
        with serve_stage_metrics(environ, manifest, stage(manifest, "weak-s1-r0"), warnings.append) as live:
            record_training(event(5))
            assert live is not None and live.snapshot() is not None
    assert len(warnings) == 1 and f"W2S_TRAINER_METRICS_PORT={port}: cannot listen" in warnings[0]


def test_the_operator_gives_training_stages_the_metrics_port(manifest: ExperimentManifest) -> None:
    from ensemw2s.operator.jobs import Owner

    owner = Owner("ensemw2s.io/v1alpha1", "EnsemW2SExperiment", "exp", "team-a", "uid-1")
    spec = manifest.spec.model_copy(update={"storage": manifest.spec.storage.model_copy(update={"uri": "s3://b/r"})})
    manifest = manifest.model_copy(update={"spec": spec})
    for stage_ in build_stage_graph(manifest.spec).stages:
        [container] = build_stage_job(manifest, stage_, owner)["spec"]["template"]["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        env = {e["name"]: e.get("value") for e in container["env"]}
        if stage_.kind in (StageKind.WEAK, StageKind.STRONG):
            assert ports["metrics"] == 9110 and env["W2S_TRAINER_METRICS_PORT"] == "9110"
        else:
            assert "metrics" not in ports and "W2S_TRAINER_METRICS_PORT" not in env


def test_the_trainer_command_serves_a_stage_s_training_metrics_while_it_runs(
    tiny_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m ensemw2s.trainer weak ...`` in a pod: with the operator's port variable set, a scrape during the
    stage shows its training steps, and the port is closed once the stage is done."""
    from ensemw2s.trainer.__main__ import main

    store = str(tmp_path / "store")
    assert main(["prepare", "--seed", "1", "--spec", str(tiny_file), "--store", store]) == 0
    port = free_port()
    monkeypatch.setenv(metrics.ENV_TRAINER_METRICS_PORT, str(port))
    scraped: list[bytes] = []
    done = threading.Event()

    def scrape() -> None:
        while not done.is_set():
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).read()
            except OSError:
                body = b""
            if b"ensemw2s_training_step{" in body:
                scraped.append(body)
            done.wait(0.05)

    scraper = threading.Thread(target=scrape)
    scraper.start()
    try:
        argv = ["weak", "--seed", "1", "--round", "0", "--spec", str(tiny_file), "--store", store]
        assert main(argv) == 0
    finally:
        done.set()
        scraper.join()
    assert scraped, "no scrape during the weak stage showed its training steps"
    assert b'stage="weak-s1-r0"' in scraped[-1]
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1)
