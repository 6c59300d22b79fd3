"""``python -m ensemw2s.trainer``: what a stage container runs (spec and store from the environment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ensemw2s.spec import (
    ExperimentManifest,
    Stage,
    StageInvocation,
    StageKind,
    StageSummary,
    stage_command,
    stage_environment,
)


def run_trainer(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv], cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=300
    )


def test_stage_from_the_operator_contract_writes_its_termination_message(
    finished: tuple[ExperimentManifest, Path], tmp_path: Path
) -> None:
    manifest, store = finished
    stage = Stage(StageKind.AGGREGATE, 1)
    log = tmp_path / "termination-log"
    env = stage_environment(StageInvocation(stage, manifest, str(store), str(log)))
    done = run_trainer(stage_command(stage, python="python")[1:], env, tmp_path)
    assert done.returncode == 0, done.stderr
    summary = StageSummary.model_validate_json(log.read_text())
    assert summary.stage == "aggregate-s1" and summary.skipped
    assert "chosenRound" in summary.metrics
    assert json.loads(done.stdout)["stage"] == "aggregate-s1"


def test_missing_input_exits_1_with_one_error_line(finished: tuple[ExperimentManifest, Path], tmp_path: Path) -> None:
    manifest, _ = finished
    stage = Stage(StageKind.WEAK, 1, round=1)
    env = stage_environment(StageInvocation(stage, manifest, str(tmp_path / "empty"), None))
    done = run_trainer(stage_command(stage)[1:], env, tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("Error: stage weak-s1-r1: needs weak-s1-r0 (key ")


def test_bad_spec_in_the_environment_exits_2(tmp_path: Path) -> None:
    env = {"W2S_MANIFEST_JSON": json.dumps({"kind": "EnsemW2SExperiment"}), "W2S_STORE": str(tmp_path)}
    done = run_trainer(["-m", "ensemw2s.trainer", "prepare", "--seed", "1"], env, tmp_path)
    assert done.returncode == 2
    assert "Error: metadata: required field is missing" in done.stderr


def test_no_spec_at_all_says_how_to_pass_one(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("W2S_")}
    done = subprocess.run(
        [sys.executable, "-m", "ensemw2s.trainer", "prepare", "--seed", "1"],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "W2S_MANIFEST_JSON and W2S_STORE must be set; pass --spec and --store" in done.stderr


def test_clean_deletes_only_this_experiments_artifacts(tiny_data: dict[str, object], tmp_path: Path) -> None:
    from ensemw2s.spec import cleanup_command, parse_manifest

    manifest = parse_manifest(tiny_data)
    store = tmp_path / "store"
    mine = store / "default" / "tiny" / "s1"
    other = store / "default" / "other"
    mine.mkdir(parents=True)
    other.mkdir(parents=True)
    (mine / "x.json").write_text("{}")
    stage = Stage(StageKind.REPORT)
    env = stage_environment(StageInvocation(stage, manifest, str(store), None))
    done = run_trainer(cleanup_command()[1:], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (store / "default" / "tiny").exists()
    assert other.is_dir()
    again = run_trainer(cleanup_command()[1:], env, tmp_path)
    assert again.returncode == 0, "cleaning twice is fine (idempotent)"
