"""The whole pipeline on tiny presets: every stage, the store layout, skipping, results."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from ensemw2s.spec import ExperimentManifest, Stage, StageKind, StrongVariant, parse_manifest
from ensemw2s.spec.results import ExperimentResults
from ensemw2s.trainer.errors import MissingInput
from ensemw2s.trainer.keys import stage_keys
from ensemw2s.trainer.progress import SilentProgress
from ensemw2s.trainer.runner import run_experiment
from ensemw2s.trainer.stages.run import run_stage
from ensemw2s.trainer.store import StageRecord


def test_every_stage_published_once(finished: tuple[ExperimentManifest, Path]) -> None:
    manifest, store = finished
    root = store / "default" / "tiny"
    keys = stage_keys(manifest.spec)
    assert not list(root.rglob("*.partial")), "no stage left a partial folder"
    for stage, key in keys.items():
        record = StageRecord.model_validate_json(next(root.rglob(f"{key}/stage.json")).read_text())
        assert record.summary.stage == stage.name and record.files, "stage.json lists the stage's files"
        if stage.kind is StageKind.REPORT:
            assert {"prepare-s1", "weak-s1-r0", "aggregate-s1", "strong-s1-w2s"} <= set(record.inputs)
    assert (root / "results.json").is_file() and (root / "report.md").is_file()
    assert (root / "spec.json").is_file()


def test_results_are_consistent_with_stage_outputs(finished: tuple[ExperimentManifest, Path]) -> None:
    _manifest, store = finished
    root = store / "default" / "tiny"
    results = ExperimentResults.model_validate_json((root / "results.json").read_text())
    seed = results.seeds[0]
    assert len(seed.rounds) >= 1 and 1 <= seed.chosen_round <= len(seed.prefix)
    labels = np.load(next(root.rglob("prepare/*/labels.npz")))["hard_test"]
    round0 = np.load(next(root.rglob("weak/r0/*/preds.npz")))["hard_test"]
    assert seed.accuracies.weak == pytest.approx(float(np.mean(round0.argmax(1) == labels)))
    assert seed.prefix[0].hard_test == pytest.approx(seed.accuracies.weak)
    for variant, value in (
        ("ceiling", seed.accuracies.ceiling),
        ("w2s", seed.accuracies.w2s),
        ("ensemble", seed.accuracies.ensemw2s),
    ):
        preds = np.load(next(root.rglob(f"strong/{variant}/*/preds.npz")))["hard_test"]
        assert value == pytest.approx(float(np.mean(preds.argmax(1) == labels)))
    weak, ceiling, w2s = seed.accuracies.weak, seed.accuracies.ceiling, seed.accuracies.w2s
    assert weak is not None and ceiling is not None and w2s is not None
    # A PGR is reported only with its interval; n/a (None) when the gap is inside the noise.
    interval = seed.pgr_interval.w2s_vs_weak
    if seed.pgr.w2s_vs_weak is None:
        assert interval is None
    else:
        assert seed.pgr.w2s_vs_weak == pytest.approx((w2s - weak) / (ceiling - weak))
        assert interval is not None and interval.low <= seed.pgr.w2s_vs_weak <= interval.high
    assert (results.weak_model, results.strong_model) == ("tiny-weak", "tiny-strong")


def test_the_report_at_the_root_links_its_figures(finished: tuple[ExperimentManifest, Path]) -> None:
    _manifest, store = finished
    root = store / "default" / "tiny"
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (root / "report.md").read_text())
    assert len(links) == 2
    for link in links:
        assert (root / link).is_file(), f"report.md links {link}, which is not there"
    published = next(root.rglob("report/*/report.md"))
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", published.read_text()):
        assert (published.parent / link).is_file()


def test_rerun_skips_everything(finished: tuple[ExperimentManifest, Path]) -> None:
    manifest, store = finished
    again = run_experiment(manifest, str(store), SilentProgress())
    assert all(summary.skipped for summary in again.summaries.values())


def test_a_changed_strong_setting_reruns_only_the_students(finished: tuple[ExperimentManifest, Path]) -> None:
    manifest, _ = finished
    data = manifest.to_json_dict()
    data["spec"]["strong"]["training"]["learningRate"] = 0.002
    before, after = stage_keys(manifest.spec), stage_keys(parse_manifest(data).spec)
    changed = {stage.kind for stage in before if before[stage] != after[stage]}
    assert changed == {StageKind.STRONG, StageKind.REPORT}


def test_a_changed_weak_setting_keeps_prepare_and_ceiling(finished: tuple[ExperimentManifest, Path]) -> None:
    manifest, _ = finished
    data = manifest.to_json_dict()
    data["spec"]["weak"]["training"]["epochs"] = 3
    before, after = stage_keys(manifest.spec), stage_keys(parse_manifest(data).spec)
    same = {stage.name for stage in before if before[stage] == after[stage]}
    assert same == {"prepare-s1", "strong-s1-ceiling"}


def test_a_stage_without_its_inputs_says_what_to_run(tiny_manifest: ExperimentManifest, tmp_path: Path) -> None:
    with pytest.raises(
        MissingInput, match=r"stage strong-s1-w2s: needs weak-s1-r0 \(key [0-9a-f]+\) to have finished; run it first"
    ):
        run_stage(tiny_manifest, Stage(StageKind.STRONG, 1, variant=StrongVariant.W2S), str(tmp_path), SilentProgress())


def test_a_stage_outside_the_graph_is_refused(tiny_manifest: ExperimentManifest, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="not a stage of this experiment"):
        run_stage(tiny_manifest, Stage(StageKind.WEAK, 1, round=7), str(tmp_path), SilentProgress())


def test_helper_ranks_publish_nothing(
    tiny_manifest: ExperimentManifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANK", "1")
    summary = run_stage(tiny_manifest, Stage(StageKind.PREPARE, 1), str(tmp_path), SilentProgress())
    assert summary.stage == "prepare-s1"
    assert not list(tmp_path.rglob("stage.json")), "only rank 0 publishes a stage"
    assert not list(tmp_path.rglob("examples.json")), "helper ranks write into private scratch"


def test_a_stage_running_elsewhere_is_not_clobbered(tiny_manifest: ExperimentManifest, tmp_path: Path) -> None:
    from ensemw2s.trainer.errors import StoreError
    from ensemw2s.trainer.stages.run import open_store

    stage = Stage(StageKind.PREPARE, 1)
    store = open_store(tiny_manifest, str(tmp_path))
    key = stage_keys(tiny_manifest.spec)[stage]
    with (
        store.workspace(stage, key),
        pytest.raises(StoreError, match=r"stage prepare-s1: already running in another process"),
    ):
        run_stage(tiny_manifest, stage, str(tmp_path), SilentProgress())
    summary = run_stage(tiny_manifest, stage, str(tmp_path), SilentProgress())
    assert summary.stage == "prepare-s1" and not summary.skipped
