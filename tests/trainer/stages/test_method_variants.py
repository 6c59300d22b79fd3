"""Every switch of the method runs through the real stages (tiny presets, only the stages it touches)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ensemw2s.spec import ExperimentManifest, Stage, StageKind, StrongVariant, parse_manifest
from ensemw2s.trainer.progress import SilentProgress
from ensemw2s.trainer.runner import run_experiment


def variant(tiny_data: dict[str, Any], **changes: Any) -> ExperimentManifest:
    data = json.loads(json.dumps(tiny_data))
    for dotted, value in changes.items():
        target = data["spec"]
        keys = dotted.split("__")
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    return parse_manifest(data)


def stages(*names: str) -> list[Stage]:
    return [Stage.parse(name) for name in names]


def read(store: Path, pattern: str) -> Any:
    path = next(store.rglob(pattern))
    return json.loads(path.read_text()) if path.suffix == ".json" else np.load(path)


def test_kfold_difficulty_cross_fits_the_weak_model(tiny_data: dict[str, Any], tmp_path: Path) -> None:
    manifest = variant(tiny_data, dataset__difficulty={"method": "kfold", "folds": 2})
    run = run_experiment(manifest, str(tmp_path), SilentProgress(), only=stages("prepare-s1"))
    examples = read(tmp_path, "prepare/*/examples.json")
    easy = [e["difficulty"] for e in examples["easy"]]
    hard = [e["difficulty"] for e in examples["hard_test"]]
    assert all(0.0 <= d <= 1.0 for d in easy + hard)
    assert max(easy) <= min(hard), "easy items are the ones the cross-fitted weak model found easiest"
    assert run.summaries["prepare-s1"].metrics["items"] > 0


def test_random_split_ignores_difficulty(tiny_data: dict[str, Any], tmp_path: Path) -> None:
    manifest = variant(tiny_data, dataset__split="random")
    run_experiment(manifest, str(tmp_path), SilentProgress(), only=stages("prepare-s1"))
    examples = read(tmp_path, "prepare/*/examples.json")
    easy = [e["difficulty"] for e in examples["easy"]]
    hard = [e["difficulty"] for e in examples["hard_test"]]
    assert max(easy) > min(hard), "an iid split mixes easy and hard items"


def test_holdout_error_estimate_scores_easy_items_with_the_other_half(
    tiny_data: dict[str, Any], tmp_path: Path
) -> None:
    train_manifest = variant(tiny_data)
    holdout_manifest = variant(tiny_data, weak__errorEstimate="holdout")
    for name, manifest in (("train", train_manifest), ("holdout", holdout_manifest)):
        run_experiment(manifest, str(tmp_path / name), SilentProgress(), only=stages("prepare-s1", "weak-s1-r0"))
    honest = read(tmp_path / "holdout", "weak/r0/*/round.json")
    on_training_data = read(tmp_path / "train", "weak/r0/*/round.json")
    assert honest["easyAccuracy"] < on_training_data["easyAccuracy"], "held-out errors are larger than training errors"
    assert honest["eps"] == pytest.approx(1 - honest["easyAccuracy"])


def test_bagging_learners_train_on_uniform_weights(tiny_data: dict[str, Any], tmp_path: Path) -> None:
    manifest = variant(tiny_data, ensemble__method="bagging", ensemble__combine="vote")
    only = stages("prepare-s1", "weak-s1-r0", "weak-s1-r1", "weak-s1-r2", "aggregate-s1")
    run_experiment(manifest, str(tmp_path), SilentProgress(), only=only)
    for t in range(3):
        weights = read(tmp_path, f"weak/r{t}/*/weights.npz")
        assert np.allclose(weights["weights"], weights["weights"][0]), "no reweighting in bagging"
        assert read(tmp_path, f"weak/r{t}/*/round.json")["alpha"] == 1.0
    aggregate = read(tmp_path, "aggregate/*/aggregate.json")
    assert len(aggregate["rounds"]) == 3


def test_adaboost_reweights_towards_the_errors(
    tiny_data: dict[str, Any], finished: tuple[ExperimentManifest, Path]
) -> None:
    _, store = finished
    weights = read(store, "weak/r0/*/weights.npz")
    errors = weights["errors"].astype(bool)
    if errors.any() and (~errors).any():
        assert weights["next"][errors].min() > weights["next"][~errors].max()
    assert weights["next"].sum() == pytest.approx(1.0)


def test_last_round_selection_uses_every_learner(tiny_data: dict[str, Any], tmp_path: Path) -> None:
    manifest = variant(tiny_data, ensemble__roundSelection="last")
    only = stages("prepare-s1", "weak-s1-r0", "weak-s1-r1", "weak-s1-r2", "aggregate-s1")
    run = run_experiment(manifest, str(tmp_path), SilentProgress(), only=only)
    assert run.summaries["aggregate-s1"].metrics["chosenRound"] == run.summaries["aggregate-s1"].metrics["learners"]


def test_hard_w2s_labels_and_logconf_students(tiny_data: dict[str, Any], tmp_path: Path) -> None:
    manifest = variant(tiny_data, baselines__w2sLabels="hard", strong__loss="logconf")
    only = stages("prepare-s1", "weak-s1-r0", "strong-s1-w2s")
    run = run_experiment(manifest, str(tmp_path), SilentProgress(), only=only)
    student = read(tmp_path, "strong/w2s/*/student.json")
    probs = read(tmp_path, "weak/r0/*/preds.npz")["hard_train"]
    labels = read(tmp_path, "prepare/*/labels.npz")["hard_train"]
    assert student["labelAccuracy"] == pytest.approx(float(np.mean(probs.argmax(1) == labels)))
    assert 0.0 <= run.summaries["strong-s1-w2s"].metrics["accuracy"] <= 1.0
    assert Stage(StageKind.STRONG, 1, variant=StrongVariant.W2S).name == "strong-s1-w2s"
