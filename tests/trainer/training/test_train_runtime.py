from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from ensemw2s.spec import MixedPrecision
from ensemw2s.trainer import runtime as trainer_runtime
from ensemw2s.trainer.training import (
    TrainConfig,
    resolve_mixed_precision,
    runtime,
    set_threads,
    stage_accelerator,
)


@pytest.fixture
def fake_cgroup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    paths = {"v2": tmp_path / "cpu.max", "quota": tmp_path / "quota", "period": tmp_path / "period"}
    monkeypatch.setattr(runtime, "CGROUP_V2_CPU_MAX", paths["v2"])
    monkeypatch.setattr(runtime, "CGROUP_V1_QUOTA", paths["quota"])
    monkeypatch.setattr(runtime, "CGROUP_V1_PERIOD", paths["period"])
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 64)
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda _: set(range(64)), raising=False)
    monkeypatch.delenv(runtime.LOCAL_PROCESSES_ENV, raising=False)
    return paths


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, 64),
        ({"v2": "max 100000"}, 64),
        ({"v2": "150000 100000"}, 2),  # a 1.5-CPU limit rounds up
        ({"v2": "garbage"}, 64),
        ({"quota": "400000", "period": "100000"}, 4),
        ({"quota": "-1", "period": "100000"}, 64),
    ],
)
def test_available_cpus_respects_the_container_limit(fake_cgroup, files: dict[str, str], expected: int) -> None:
    for name, text in files.items():
        fake_cgroup[name].write_text(text)
    assert runtime.available_cpus() == expected


def test_available_cpus_respects_affinity(fake_cgroup, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda _: {0, 1, 2})
    assert runtime.available_cpus() == 3


@pytest.mark.parametrize(("local", "expected"), [("2", 2), ("3", 1), ("8", 1), ("junk", 4)])
def test_ranks_on_one_node_share_its_cores(fake_cgroup, monkeypatch, local: str, expected: int) -> None:
    fake_cgroup["v2"].write_text("400000 100000")  # 4 CPUs
    monkeypatch.setenv(runtime.LOCAL_PROCESSES_ENV, local)
    assert runtime.available_cpus() == expected


def test_set_threads() -> None:
    assert set_threads(1) == 1 and torch.get_num_threads() == 1


def test_the_trainer_process_uses_the_same_thread_rule(fake_cgroup) -> None:
    fake_cgroup["v2"].write_text("300000 100000")  # 3 CPUs of a 64-core node
    before = torch.get_num_threads()
    try:
        assert trainer_runtime.configure_runtime(None) == 3 == torch.get_num_threads()
        assert trainer_runtime.configure_runtime(2) == 2 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def test_mixed_precision_auto_is_off_without_cuda() -> None:
    expected = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    assert resolve_mixed_precision(MixedPrecision.AUTO) == expected
    assert resolve_mixed_precision(MixedPrecision.FP16) == "fp16"


def test_stage_accelerator_takes_the_run_settings() -> None:
    accelerator = stage_accelerator(TrainConfig(grad_accum=4))
    assert accelerator.gradient_accumulation_steps == 4
    assert accelerator.mixed_precision == resolve_mixed_precision(MixedPrecision.AUTO)
    assert accelerator.step_scheduler_with_optimizer is False  # the loop steps it once per optimiser step


SECOND_PRECISION = """
    import numpy as np, torch
    from ensemw2s.trainer.models import load_classifier
    from ensemw2s.trainer.training import TrainConfig, TrainingError, encode_texts, one_hot_targets
    from ensemw2s.trainer.training import stage_accelerator, train_classifier

    texts = [f"the movie was {word}" for word in ("good", "bad", "fine", "awful")] * 8
    loaded = load_classifier("tiny-weak", 2, texts, seed=0)
    encoded = encode_texts(loaded.tokenizer, texts, 16)
    targets = one_hot_targets(np.array([1, 0, 1, 0] * 8), 2)
    config = TrainConfig(epochs=1, batch_size=8, threads=1, mixed_precision="bf16")
    train_classifier(loaded.model, encoded, targets, config)
    batch = encoded.batch(torch.arange(4))
    assert loaded.model(batch.input_ids, batch.attention_mask).dtype == torch.float32
    assert next(loaded.model.parameters()).dtype == torch.float32
    try:
        stage_accelerator(TrainConfig(mixed_precision="no"))
    except TrainingError as error:
        print(error)
"""


def test_bf16_on_cpu_then_a_second_precision_is_refused_by_name(tmp_path: Path) -> None:
    """bf16 autocast trains a float32 model; then the process's precision is fixed (accelerate keeps one
    state per process). Run in its own process: this one has its precision already."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SECOND_PRECISION)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().startswith(
        "train.mixed_precision: this process already trains under mixed precision 'bf16'"
    ), done.stdout
    assert "(got 'no')" in done.stdout and "runtime.mixedPrecision" in done.stdout
