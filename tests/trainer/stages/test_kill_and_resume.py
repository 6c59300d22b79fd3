"""A run killed mid-stage (SIGKILL, mid-training) resumes to the same results as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ensemw2s.spec import ExperimentManifest, load_manifest
from ensemw2s.trainer.progress import SilentProgress
from ensemw2s.trainer.runner import run_experiment


def _wait_for_checkpoint(root: Path, process: subprocess.Popen[bytes], timeout: float = 120) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(root.glob("default/tiny/s1/strong/*/*.partial/checkpoints/step-*"))
        if found:
            return found[0]
        if process.poll() is not None:
            pytest.fail(f"the run ended before any student checkpoint (exit {process.returncode})")
        time.sleep(0.05)
    pytest.fail("no student checkpoint within the timeout")


def test_killed_run_resumes_to_identical_results(
    tiny_file: Path, tmp_path: Path, finished: tuple[ExperimentManifest, Path]
) -> None:
    store = tmp_path / "store"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ensemw2s.trainer", "all", "--spec", str(tiny_file), "--store", str(store)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        checkpoint = _wait_for_checkpoint(store, process)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    partial = checkpoint.parents[1]
    assert partial.name.endswith(".partial"), "the killed stage left its partial folder with a checkpoint"
    assert not (store / "default/tiny/results.json").exists()

    resumed = run_experiment(load_manifest(tiny_file), str(store), SilentProgress())

    skipped = [name for name, s in resumed.summaries.items() if s.skipped]
    assert "prepare-s1" in skipped and "weak-s1-r0" in skipped, "finished stages are not redone"
    assert not partial.exists(), "the resumed stage finished and published its folder"
    published = partial.with_name(partial.name.removesuffix(".partial"))
    student = json.loads((published / "student.json").read_text())
    assert student["resumedFromStep"] >= int(checkpoint.name.removeprefix("step-")), "training resumed mid-stage"
    _, reference = finished
    expected = json.loads((reference / "default/tiny/results.json").read_text())
    actual = json.loads((store / "default/tiny/results.json").read_text())
    assert actual == expected
