from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ensemw2s.trainer.training import MixedPrecision, make_accelerator, resolve_mixed_precision, runtime, set_threads


@pytest.fixture
def fake_cgroup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    paths = {"v2": tmp_path / "cpu.max", "quota": tmp_path / "quota", "period": tmp_path / "period"}
    monkeypatch.setattr(runtime, "CGROUP_V2_CPU_MAX", paths["v2"])
    monkeypatch.setattr(runtime, "CGROUP_V1_QUOTA", paths["quota"])
    monkeypatch.setattr(runtime, "CGROUP_V1_PERIOD", paths["period"])
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 64)
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda _: set(range(64)), raising=False)
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


def test_set_threads() -> None:
    assert set_threads(1) == 1 and torch.get_num_threads() == 1


def test_mixed_precision_auto_is_off_without_cuda() -> None:
    expected = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    assert resolve_mixed_precision(MixedPrecision.AUTO) == expected
    assert resolve_mixed_precision(MixedPrecision.FP16) == "fp16"


def test_accelerators_with_different_precisions_in_one_process() -> None:
    assert make_accelerator("bf16").mixed_precision == "bf16"
    assert make_accelerator("no").mixed_precision == "no"
