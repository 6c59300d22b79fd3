"""``w2sctl status|results --store``: a local run's status from its store, finished, running or killed."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest
from ensemw2s.cli.main import main
from ensemw2s.spec import ExperimentManifest, StageSummary, build_stage_graph
from ensemw2s.trainer.keys import stage_keys
from ensemw2s.trainer.store import ExperimentStore, StageRecord


def test_a_finished_run_reads_as_succeeded_with_its_results(
    tiny_file: Path, finished: tuple[ExperimentManifest, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, store = finished

    assert main(["status", str(tiny_file), "--store", str(store)]) == 0
    by_name = capsys.readouterr().out
    assert main(["status", "tiny", "--store", str(store), "-o", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert main(["results", "tiny", "--store", str(store)]) == 0
    table = capsys.readouterr().out

    first = by_name.splitlines()[0]
    assert first.startswith("default/tiny: Succeeded, stage -, round 3/3, PGR ")
    assert first.endswith(f"stages done; local run in {store}/default/tiny")
    assert "results: PGR EnsemW2S vs weak " in by_name
    status = document["status"]
    assert status["phase"] == "Succeeded" and status["stageCounts"]["succeeded"] == status["stageCounts"]["total"]
    assert all(stage["phase"] == "Succeeded" and stage["summary"]["seconds"] >= 0 for stage in status["stages"])
    assert "EnsemW2S student" in table and "PGR VS WEAK [95% CI]" in table


def _publish(store: ExperimentStore, manifest: ExperimentManifest, names: list[str]) -> None:
    """Completion records, as the runner writes them, for these stages."""
    keys = stage_keys(manifest.spec)
    for stage in build_stage_graph(manifest.spec).stages:
        if stage.name in names:
            summary = StageSummary(stage=stage.name, key=keys[stage], seconds=3.0, metrics={"accuracy": 0.6})
            store.write_model(
                f"{store.stage_path(stage, keys[stage])}/stage.json", StageRecord(summary=summary, files={})
            )


def _partial(store: ExperimentStore, manifest: ExperimentManifest, name: str) -> Path:
    keys = stage_keys(manifest.spec)
    stage = build_stage_graph(manifest.spec).by_name(name)
    folder = Path(store.full_path(f"{store.stage_path(stage, keys[stage])}.partial"))
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize("running", [True, False])
def test_a_running_or_killed_run(
    tiny_manifest: ExperimentManifest, tmp_path: Path, capsys: pytest.CaptureFixture[str], running: bool
) -> None:
    store = ExperimentStore(str(tmp_path / "runs"), "default", "tiny")
    store.write_json("spec.json", tiny_manifest.to_json_dict())
    _publish(store, tiny_manifest, ["prepare-s1", "weak-s1-r0"])
    folder = _partial(store, tiny_manifest, "weak-s1-r1")
    lock = os.open(folder, os.O_RDONLY)
    try:
        if running:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what the runner holds while the stage runs
        code = main(["status", "tiny", "--store", str(tmp_path / "runs"), "-o", "wide"])
    finally:
        os.close(lock)
    out = capsys.readouterr().out

    assert code == 0
    phase = "Running" if running else "Suspended"
    assert out.splitlines()[0].startswith(f"default/tiny: {phase}, stage weak-s1-r1, round 1/3, PGR -, 2/")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:] if line and not line.startswith(" ")}
    assert rows["prepare-s1"][:4] == ["prepare-s1", "Succeeded", "1", "3s"]
    assert "accuracy=0.6" in " ".join(rows["weak-s1-r0"])
    assert rows["weak-s1-r1"][1] == ("Running" if running else "Suspended")
    assert ("Interrupted" in rows["weak-s1-r1"]) is not running
    assert "weak-s1-r2" not in rows  # not started: no detail
    if not running:
        assert "message: not running; `w2sctl run FILE` resumes it" in out


def test_an_unknown_local_run_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "ghost", "--store", str(tmp_path), "-n", "lab"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"Error: {tmp_path}/lab/ghost: no local run named ghost (got no spec.json); pass the experiment's YAML "
        "file, or its name with the -n and --store it ran with"
    ]


def test_status_store_needs_a_run_and_warns_about_cluster_options(
    tiny_manifest: ExperimentManifest, tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--store", str(tmp_path)]) == 2
    capsys.readouterr()
    assert main(["status", str(tiny_file), "--store", str(tmp_path), "--context", "prod"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("default/tiny: Pending, stage -, round 0/3, PGR -, 0/")
    assert "no stage has started yet" in captured.out
    assert "warning: --context: not used by `w2sctl status --store`, which does not contact a cluster" in captured.err


def test_a_damaged_record_reads_as_a_failed_stage(
    tiny_manifest: ExperimentManifest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ExperimentStore(str(tmp_path), "default", "tiny")
    keys = stage_keys(tiny_manifest.spec)
    prepare = build_stage_graph(tiny_manifest.spec).by_name("prepare-s1")
    store.write_bytes(f"{store.stage_path(prepare, keys[prepare])}/stage.json", b"{not json")

    assert main(["status", str(tiny_file_of(tiny_manifest, tmp_path)), "--store", str(tmp_path)]) == 0
    out = capsys.readouterr().out

    assert out.splitlines()[0].startswith("default/tiny: Failed, stage prepare-s1")
    assert "prepare-s1   Failed" in out and "Damaged" in out
    assert "message: stage prepare-s1 is damaged; `w2sctl run FILE --redo prepare-s1` redoes it" in out


def tiny_file_of(manifest: ExperimentManifest, folder: Path) -> Path:
    from ensemw2s.spec import dump_manifest

    path = folder / "tiny.yaml"
    path.write_text(dump_manifest(manifest))
    return path
