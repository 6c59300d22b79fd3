"""``w2sctl metrics serve``'s exporter (``ensemw2s.cli.experiment_metrics``): experiments from a cluster's typed
status and from local artifact stores, as promtool-clean Prometheus metrics."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from ensemw2s.cli.experiment_metrics import (
    ExperimentCollector,
    ExportedExperiment,
    cluster_reader,
    experiment_from_object,
    experiment_from_store,
    store_reader,
)
from ensemw2s.cli.main import main
from ensemw2s.operator.status_model import ExperimentStatus, Phase
from ensemw2s.spec import ExperimentManifest, build_stage_graph, parse_manifest
from ensemw2s.trainer.keys import stage_keys
from ensemw2s.trainer.store import ExperimentStore, flocked_files
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

Sample = tuple[str, tuple[tuple[str, str], ...]]


def exposition(collector: ExperimentCollector) -> bytes:
    registry = CollectorRegistry()
    registry.register(collector)
    return generate_latest(registry)


def samples(text: bytes) -> dict[Sample, float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }


def value(found: dict[Sample, float], name: str, **labels: str) -> float:
    matches = [v for (n, ls), v in found.items() if n == name and labels.items() <= dict(ls).items()]
    assert len(matches) == 1, f"{name}{labels}: {len(matches)} series"
    return matches[0]


def test_a_finished_local_run(
    finished: tuple[ExperimentManifest, Path], check_exposition: Callable[[bytes], None]
) -> None:
    manifest, root = finished
    text = exposition(ExperimentCollector("store", store_reader(str(root))))
    check_exposition(text)
    found = samples(text)
    key = {"namespace": "default", "experiment": "tiny"}
    assert value(found, "ensemw2s_exporter_source_up", source="store") == 1.0
    assert value(found, "ensemw2s_experiment_phase", **key, phase="Succeeded") == 1.0
    assert value(found, "ensemw2s_experiment_phase", **key, phase="Running") == 0.0
    assert value(found, "ensemw2s_experiment_stages", **key, state="succeeded") == len(
        build_stage_graph(manifest.spec).stages
    )
    assert value(found, "ensemw2s_experiment_stages", **key, state="waiting") == 0.0
    assert value(found, "ensemw2s_experiment_weak_rounds", **key) == 3.0
    assert value(found, "ensemw2s_experiment_weak_rounds_done", **key, seed="1") == 3.0
    results = json.loads((root / "default" / "tiny" / "results.json").read_text())
    [seed] = results["seeds"]
    for round_ in seed["rounds"]:
        where = {**key, "seed": "1", "round": str(round_["round"])}
        assert value(found, "ensemw2s_weak_round_error_ratio", **where) == pytest.approx(round_["eps"])
        if round_["alpha"] is not None:
            assert value(found, "ensemw2s_weak_round_alpha", **where) == pytest.approx(round_["alpha"])
    for model, accuracy in results["mean"].items():
        name = {"weakEnsemble": "weak_ensemble"}.get(model, model)
        if accuracy is not None:
            assert value(found, "ensemw2s_report_accuracy_ratio", **key, model=name) == pytest.approx(accuracy)
    defined = {name: pgr for name, pgr in results["meanPgr"].items() if pgr is not None}
    assert len([n for n, _ in found if n == "ensemw2s_report_pgr"]) == len(defined)
    stages = [ls for n, ls in found if n == "ensemw2s_experiment_stage_duration_seconds"]
    assert len(stages) == len(build_stage_graph(manifest.spec).stages)
    assert value(found, "ensemw2s_experiment_status_update_timestamp_seconds", **key) > 1.6e9


def started_store(tmp_path: Path, manifest: ExperimentManifest) -> ExperimentStore:
    store = ExperimentStore(str(tmp_path), manifest.namespace, manifest.name)
    store.write_json("spec.json", manifest.to_json_dict())
    return store


def test_a_local_run_is_pending_then_running_while_a_stage_holds_its_lock_then_suspended(
    tmp_path: Path, tiny_manifest: ExperimentManifest
) -> None:
    store = started_store(tmp_path, tiny_manifest)
    root = str(tmp_path)
    assert experiment_from_store(root, "default", "tiny").status.phase is Phase.PENDING
    stage, key = next(iter(stage_keys(tiny_manifest.spec).items()))
    with store.workspace(stage, key):  # what a running stage holds
        running = experiment_from_store(root, "default", "tiny")
        assert running.status.phase is Phase.RUNNING
        assert running.status.stage == stage.name and running.status.stage_counts.active == 1
    stopped = experiment_from_store(root, "default", "tiny")  # killed: the partial folder stays, unlocked
    assert stopped.status.phase is Phase.SUSPENDED and stopped.status.stage_counts.active == 0


def test_proc_locks_parsing(tmp_path: Path) -> None:
    locks = tmp_path / "locks"
    locks.write_text(
        "1: FLOCK  ADVISORY  WRITE 4711 fd:01:123456 0 EOF\n"
        "2: POSIX  ADVISORY  WRITE 4712 00:2a:99 0 EOF\n"
        "3: FLOCK  ADVISORY  WRITE 4713 08:11:77 0 EOF\n"
    )
    assert flocked_files(locks) == {(0xFD, 1, 123456), (8, 0x11, 77)}
    assert flocked_files(tmp_path / "missing") is None


def cluster_object(manifest: ExperimentManifest, results: dict[str, object]) -> dict[str, object]:
    return {
        **manifest.to_json_dict(),
        "metadata": {
            "name": "exp",
            "namespace": "team-a",
            "managedFields": [
                {"manager": "w2sctl", "operation": "Apply", "time": "2024-05-01T11:00:00Z"},
                {"manager": "kopf", "operation": "Update", "subresource": "status", "time": "2024-05-01T12:00:00Z"},
            ],
        },
        "status": {
            "phase": "Running",
            "stageCounts": {"total": 10, "waiting": 3, "active": 1, "succeeded": 6},
            "succeededStages": ["prepare-s1", "weak-s1-r0", "weak-s1-r1"],
            "stages": [
                {
                    "name": "weak-s1-r0",
                    "phase": "Succeeded",
                    "summary": {"seconds": 30, "metrics": {"eps": 0.2, "alpha": 1.4}},
                },
                {"name": "weak-s1-r1", "phase": "Succeeded", "summary": {"seconds": 20, "metrics": {"eps": 0.3}}},
                {"name": "weak-s1-r2", "phase": "Running", "startTime": "2024-05-01T12:00:00Z"},
                {"name": "not-a-stage", "phase": "Running", "startTime": "2024-05-01T12:00:00Z"},
            ],
            "results": results,
        },
    }


def test_an_experiment_on_a_cluster_from_its_typed_status(
    finished: tuple[ExperimentManifest, Path], check_exposition: Callable[[bytes], None]
) -> None:
    manifest, root = finished
    results = json.loads((root / "default" / "tiny" / "results.json").read_text())
    obj = cluster_object(manifest, results)
    clock = 1714564800.0 + 90  # 2024-05-01T12:01:30Z
    text = exposition(ExperimentCollector("cluster", cluster_reader(lambda: [obj]), clock=lambda: clock))
    check_exposition(text)
    found = samples(text)
    key = {"namespace": "team-a", "experiment": "exp"}
    assert value(found, "ensemw2s_experiment_phase", **key, phase="Running") == 1.0
    assert value(found, "ensemw2s_experiment_stages", **key, state="active") == 1.0
    assert value(found, "ensemw2s_experiment_weak_rounds_done", **key, seed="1") == 2.0
    assert value(found, "ensemw2s_weak_round_error_ratio", **key, round="1") == 0.3
    assert value(found, "ensemw2s_weak_round_alpha", **key, round="0") == 1.4
    assert not [ls for n, ls in found.items() if n[0] == "ensemw2s_weak_round_alpha" and ("round", "1") in n[1]]
    assert value(found, "ensemw2s_experiment_stage_duration_seconds", **key, stage="weak-s1-r2") == 90.0
    assert value(found, "ensemw2s_experiment_status_update_timestamp_seconds", **key) == 1714564800.0
    defined = {name: pgr for name, pgr in results["meanPgr"].items() if pgr is not None}
    assert len([n for n, _ in found if n[0] == "ensemw2s_report_pgr"]) == len(defined)


def test_an_invalid_experiment_still_shows_its_phase(tiny_manifest: ExperimentManifest) -> None:
    obj = {"metadata": {"name": "bad", "namespace": "team-a"}, "spec": {"seeds": "x"}, "status": {"phase": "Invalid"}}
    experiment = experiment_from_object(obj)
    assert experiment.spec is None and experiment.status.phase is Phase.INVALID
    found = samples(exposition(ExperimentCollector("cluster", lambda: [experiment])))
    assert value(found, "ensemw2s_experiment_phase", namespace="team-a", experiment="bad", phase="Invalid") == 1.0
    assert not [n for n, _ in found if n == "ensemw2s_experiment_weak_rounds"]


def test_a_source_that_cannot_be_read_is_source_up_0_and_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    failing = {"now": True}

    def read() -> list[ExportedExperiment]:
        if failing["now"]:
            raise RuntimeError("list ensemw2sexperiments: forbidden")
        return [ExportedExperiment("ns", "exp", None, ExperimentStatus())]

    collector = ExperimentCollector("cluster", read)
    for _ in range(2):
        found = samples(exposition(collector))
        assert found == {("ensemw2s_exporter_source_up", (("source", "cluster"),)): 0.0}
    assert capsys.readouterr().err == "error: reading the cluster: list ensemw2sexperiments: forbidden\n"
    failing["now"] = False
    assert value(samples(exposition(collector)), "ensemw2s_exporter_source_up") == 1.0
    assert capsys.readouterr().err == "reading the cluster works again\n"


def test_serve_on_a_busy_port_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["metrics", "serve", "--store", str(tmp_path), "--host", "127.0.0.1", "--port", str(port)])
    assert code == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"Error: --port {port}: cannot listen on 127.0.0.1 (got ") and "choose a free port" in line


def test_run_metrics_port_busy_fails_before_training(
    tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["run", str(tiny_file), "--store", str(tmp_path / "runs"), "--metrics-port", str(port)])
    assert code == 1
    assert f"Error: --metrics-port {port}: cannot listen" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_parse_manifest_round_trip_of_the_store_spec(finished: tuple[ExperimentManifest, Path]) -> None:
    manifest, root = finished
    stored = json.loads((root / "default" / "tiny" / "spec.json").read_text())
    assert parse_manifest(stored) == manifest
