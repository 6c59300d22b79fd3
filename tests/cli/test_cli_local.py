"""w2sctl run / validate: output, exit codes, errors on stderr, data on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from ensemw2s.cli.main import main


def write(tmp_path: Path, data: dict[str, object], name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_validate_ok(tiny_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tiny_file)]) == 0
    assert capsys.readouterr().out.strip() == f"{tiny_file}: valid (default/tiny)"


def test_validate_reports_every_problem(
    tiny_data: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(json.dumps(tiny_data))
    data["spec"]["weak"]["rounds"] = 0
    data["spec"]["dataset"]["sizes"]["easy"] = 0
    assert main(["validate", str(write(tmp_path, data))]) == 1
    err = capsys.readouterr().err
    assert "Error: spec.dataset.sizes.easy: must be >= 1 (got 0)" in err
    assert "spec.weak.rounds: must be >= 1 (got 0)" in err


def test_validate_semantic_error_and_cluster_checks(
    tiny_data: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(json.dumps(tiny_data))
    data["spec"]["dataset"]["name"] = "sciqq"
    assert main(["validate", str(write(tmp_path, data))]) == 1
    assert "error: spec.dataset.name: unknown dataset (got 'sciqq'); did you mean 'sciq'?" in capsys.readouterr().err
    assert main(["validate", "--cluster", str(write(tmp_path, tiny_data, "ok.yaml"))]) == 1
    assert "spec.storage: needs pvc or uri on a cluster" in capsys.readouterr().err


def test_missing_file_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "nope.yaml")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"Error: {tmp_path / 'nope.yaml'}: file not found; check the path"]


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    assert main(["-o", "xml", "validate", "x"]) == 2


def test_run_prints_the_results_table(
    tiny_file: Path, finished: tuple[object, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, store = finished
    assert main(["run", str(tiny_file), "--store", str(store)]) == 0
    captured = capsys.readouterr()
    assert "EnsemW2S student" in captured.out and "ceiling" in captured.out
    assert "EnsemW2S > W2S: " in captured.out and "better in" in captured.out
    assert "PGR VS WEAK [95% CI]" in captured.out
    assert "stages were already done and reused" in captured.err
    assert "report:" in captured.err and "report.md" in captured.err


def test_run_json_output_is_the_results_document(
    tiny_file: Path, finished: tuple[object, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, store = finished
    assert main(["-o", "json", "run", str(tiny_file), "--store", str(store)]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["experiment"] == "tiny"
    assert set(results["mean"]) == {"weak", "weakEnsemble", "w2s", "ensemw2s", "ceiling"}


def test_a_failing_stage_exits_3(
    tiny_data: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A remote source is read by prepare only (validation cannot): too few rows fail that stage."""
    import uuid

    import fsspec

    url = f"memory://ensemw2s-{uuid.uuid4().hex}/data.jsonl"
    with fsspec.open(url, "wt") as handle:
        handle.writelines(json.dumps({"text": f"t {i}", "label": i % 2}) + "\n" for i in range(100))
    data = json.loads(json.dumps(tiny_data))
    data["spec"]["dataset"] = {**data["spec"]["dataset"], "name": "local", "source": url, "split": "random"}
    assert main(["run", str(write(tmp_path, data)), "--store", str(tmp_path / "store")]) == 3
    err = capsys.readouterr().err
    assert "Error: tiny: stage prepare-s1: spec.dataset.sizes" in err, "a permanent error's own message, no class name"


def test_sizes_the_pool_cannot_split_fail_before_any_stage(
    tiny_data: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(json.dumps(tiny_data))
    data["spec"]["dataset"]["sizes"] = {"easy": 700, "val": 60, "hardTrain": 20, "hardTest": 10}
    assert main(["run", str(write(tmp_path, data)), "--store", str(tmp_path / "store")]) == 1
    err = capsys.readouterr().err
    assert "spec.dataset.sizes: easy + val = 760 but the easy half holds 400 of 800 examples" in err
    assert not (tmp_path / "store").exists()


def test_run_redo_reruns_one_stage_and_reuses_the_rest(
    tiny_file: Path, finished: tuple[object, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    _, store = finished
    shutil.copytree(store, tmp_path / "store")
    assert main(["run", str(tiny_file), "--store", str(tmp_path / "store"), "--redo", "report"]) == 0
    err = " ".join(capsys.readouterr().err.split())  # unwrapped
    assert "[report] done in" in err and "[aggregate-s1] already done" in err
    assert "8 of 9 stages were already done and reused (--redo STAGE to redo one, --fresh for all)" in err


def test_run_redo_of_an_unknown_stage_is_a_usage_error(tiny_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tiny_file), "--redo", "weak-s1-r9"]) == 2
    err = " ".join(capsys.readouterr().err.replace("│", " ").split())  # unboxed, unwrapped
    assert "not a stage of this experiment (got 'weak-s1-r9'); stages: prepare-s1, weak-s1-r0," in err
    assert "'--redo'" in err
