"""Every switch of the method runs through the real stages (tiny presets, only the stages it touches)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from ensemw2s.spec import ExperimentManifest, Stage, StageKind, StrongVariant, parse_manifest
from ensemw2s.trainer.progress import SilentProgress
from ensemw2s.trainer.runner import run_experiment
from ensemw2s.trainer.stages.records import AggregateRecord, PreparedExamples, RoundRecord, StudentRecord
from pydantic import BaseModel

Record = TypeVar("Record", bound=BaseModel)


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
    """An .npz file's arrays."""
    return np.load(next(store.rglob(pattern)))


def record(store: Path, pattern: str, model: type[Record]) -> Record:
    """A stage's JSON record, typed."""
    return model.model_validate_json(next(store.rglob(pattern)).read_text())


def test_kfold_difficulty_cross_fits_the_weak_model(tiny_data: dict[str, Any], tmp_path: Path) -> None:
    manifest = variant(tiny_data, dataset__difficulty={"method": "kfold", "folds": 2})
    run = run_experiment(manifest, str(tmp_path), SilentProgress(), only=stages("prepare-s1"))
    examples = record(tmp_path, "prepare/*/examples.json", PreparedExamples)
    easy = [e.difficulty for e in examples.easy]
    hard = [e.difficulty for e in examples.hard_test]
    assert all(0.0 <= d <= 1.0 for d in easy + hard)
    assert max(easy) <= min(hard), "easy items are the ones the cross-fitted weak model found easiest"
    assert run.summaries["prepare-s1"].metrics["items"] > 0


def test_random_split_ignores_difficulty(tiny_data: dict[str, Any], tmp_path: Path) -> None:
    manifest = variant(tiny_data, dataset__split="random")
    run_experiment(manifest, str(tmp_path), SilentProgress(), only=stages("prepare-s1"))
    examples = record(tmp_path, "prepare/*/examples.json", PreparedExamples)
    easy = [e.difficulty for e in examples.easy]
    hard = [e.difficulty for e in examples.hard_test]
    assert max(easy) > min(hard), "an iid split mixes easy and hard items"


def test_crossfit_measures_errors_out_of_sample_and_keeps_the_full_model(
    tiny_data: dict[str, Any], tmp_path: Path
) -> None:
    for name in ("train", "crossfit"):
        manifest = variant(tiny_data, weak__errorEstimate=name)
        run_experiment(manifest, str(tmp_path / name), SilentProgress(), only=stages("prepare-s1", "weak-s1-r0"))
    honest = record(tmp_path / "crossfit", "weak/r0/*/round.json", RoundRecord).learner
    in_sample = record(tmp_path / "train", "weak/r0/*/round.json", RoundRecord).learner
    assert honest is not None and in_sample is not None
    assert honest.error_estimate == "crossfit" and in_sample.error_estimate == "train"
    # Round 0 has uniform weights: eps is the plain error rate of the fold models on the items they did not see.
    assert honest.eps == pytest.approx(honest.easy_error_rate)
    assert honest.eps > in_sample.eps, "held-out errors are larger than errors on the training items"
    # The learner in the ensemble is the full-data model in both modes: the same predictions everywhere.
    crossfit_preds, train_preds = (read(tmp_path / n, "weak/r0/*/preds.npz") for n in ("crossfit", "train"))
    for split in ("easy", "val", "hard_train", "hard_test"):
        assert np.array_equal(crossfit_preds[split], train_preds[split])
    assert not np.array_equal(crossfit_preds["easy_error_probs"], crossfit_preds["easy"])


@pytest.mark.parametrize("weighting", ["resample", "weighted_loss"])
def test_round_zero_is_the_standalone_weak_model(tiny_data: dict[str, Any], tmp_path: Path, weighting: str) -> None:
    from ensemw2s.trainer.keys import stage_keys
    from ensemw2s.trainer.models import load_classifier
    from ensemw2s.trainer.stages.prepared import PreparedData, Role
    from ensemw2s.trainer.stages.training_config import weak_train_config
    from ensemw2s.trainer.stages.weak import round_seed
    from ensemw2s.trainer.store import ExperimentStore
    from ensemw2s.trainer.training import predict_proba, train_classifier

    manifest = variant(tiny_data, weak__sampleWeighting=weighting)
    run_experiment(manifest, str(tmp_path), SilentProgress(), only=stages("prepare-s1", "weak-s1-r0"))
    prepare = Stage(StageKind.PREPARE, 1)
    key = stage_keys(manifest.spec)[prepare]
    data = PreparedData(ExperimentStore(str(tmp_path), "default", "tiny").output(prepare, key))
    # What a user would train alone: the weak model on every easy item, plain cross-entropy, the same seed.
    spec = manifest.spec
    alone = load_classifier(spec.weak.model, data.num_classes, data.corpus, round_seed(1, 0), spec.weak.head)
    train_classifier(
        alone.model, data.tokens(Role.WEAK, "easy"), data.onehot("easy"), weak_train_config(spec, round_seed(1, 0))
    )
    expected = predict_proba(alone.model, data.tokens(Role.WEAK, "hard_test"), spec.weak.training.eval_batch_size)
    assert np.array_equal(read(tmp_path, "weak/r0/*/preds.npz")["hard_test"], expected)


def test_bagging_learners_train_on_uniform_weights(tiny_data: dict[str, Any], tmp_path: Path) -> None:
    manifest = variant(tiny_data, ensemble__method="bagging", ensemble__combine="vote")
    only = stages("prepare-s1", "weak-s1-r0", "weak-s1-r1", "weak-s1-r2", "aggregate-s1")
    run_experiment(manifest, str(tmp_path), SilentProgress(), only=only)
    for t in range(3):
        weights = read(tmp_path, f"weak/r{t}/*/weights.npz")
        assert np.allclose(weights["weights"], weights["weights"][0]), "no reweighting in bagging"
        learner = record(tmp_path, f"weak/r{t}/*/round.json", RoundRecord).learner
        assert learner is not None and learner.alpha == 1.0
    aggregate = record(tmp_path, "aggregate/*/aggregate.json", AggregateRecord)
    assert len(aggregate.boosting.rounds) == 3


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


@pytest.mark.parametrize("kind", ["soft", "hard"])
def test_one_pseudo_label_switch_for_both_students(tiny_data: dict[str, Any], tmp_path: Path, kind: str) -> None:
    manifest = variant(tiny_data, strong__pseudoLabels=kind, strong__loss="logconf")
    run_experiment(manifest, str(tmp_path), SilentProgress())
    supervisors = {
        "w2s": read(tmp_path, "weak/r0/*/preds.npz")["hard_train"],
        "ensemble": read(tmp_path, "aggregate/*/ensemble.npz")["hard_train"],
    }
    for student, soft in supervisors.items():
        fed = read(tmp_path, f"strong/{student}/*/targets.npz")["hard_train"]
        if kind == "hard":
            assert np.array_equal(fed, np.eye(2)[soft.argmax(1)]), f"{student} gets one-hot labels"
        else:
            assert fed == pytest.approx(soft, abs=1e-6), f"{student} gets the soft labels"
    gold = read(tmp_path, "prepare/*/labels.npz")["hard_train"]
    assert np.array_equal(read(tmp_path, "strong/ceiling/*/targets.npz")["hard_train"], np.eye(2)[gold])


def test_the_ceiling_trains_with_cross_entropy_whatever_the_students_loss(tiny_data: dict[str, Any]) -> None:
    from ensemw2s.spec import StudentLoss
    from ensemw2s.trainer.keys import stage_keys
    from ensemw2s.trainer.stages.training_config import strong_train_config

    xent, logconf = (
        variant(tiny_data).spec,
        variant(tiny_data, strong__loss="logconf", strong__pseudoLabels="hard").spec,
    )
    assert strong_train_config(logconf, 1, StrongVariant.CEILING).loss is StudentLoss.XENT
    assert strong_train_config(logconf, 1, StrongVariant.W2S).loss is StudentLoss.LOGCONF
    ceiling = Stage(StageKind.STRONG, 1, variant=StrongVariant.CEILING)
    w2s = Stage(StageKind.STRONG, 1, variant=StrongVariant.W2S)
    assert stage_keys(xent)[ceiling] == stage_keys(logconf)[ceiling], "the ceiling is not retrained"
    assert stage_keys(xent)[w2s] != stage_keys(logconf)[w2s]


def test_logconf_students(tiny_data: dict[str, Any], tmp_path: Path) -> None:
    manifest = variant(tiny_data, strong__pseudoLabels="hard", strong__loss="logconf")
    only = stages("prepare-s1", "weak-s1-r0", "strong-s1-w2s")
    run = run_experiment(manifest, str(tmp_path), SilentProgress(), only=only)
    student = record(tmp_path, "strong/w2s/*/student.json", StudentRecord)
    probs = read(tmp_path, "weak/r0/*/preds.npz")["hard_train"]
    labels = read(tmp_path, "prepare/*/labels.npz")["hard_train"]
    assert student.label_accuracy == pytest.approx(float(np.mean(probs.argmax(1) == labels)))
    assert 0.0 <= run.summaries["strong-s1-w2s"].metrics["accuracy"] <= 1.0
    assert Stage(StageKind.STRONG, 1, variant=StrongVariant.W2S).name == "strong-s1-w2s"


def test_crossfit_fold_models_take_as_many_steps_as_the_full_model(
    tiny_data: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ensemw2s.trainer.stages import learner
    from ensemw2s.trainer.training.batching import BatchPlan

    seen: list[tuple[int, int]] = []
    real = learner.train_classifier

    def counting(model, encoded, targets, config, **kwargs):  # type: ignore[no-untyped-def]
        plan = BatchPlan(np.arange(len(encoded)), encoded.lengths.numpy(), config.batch_size, config.epochs, 0, False)
        seen.append((len(encoded), plan.total_steps))
        return real(model, encoded, targets, config, **kwargs)

    monkeypatch.setattr(learner, "train_classifier", counting)
    manifest = variant(tiny_data, weak__errorEstimate="crossfit", weak__errorFolds=2)
    run_experiment(manifest, str(tmp_path), SilentProgress(), only=stages("prepare-s1", "weak-s1-r0"))
    (full_items, full_steps), *folds = seen
    assert full_items == 160 and [items for items, _ in folds] == [80, 80]
    assert all(steps == full_steps for _, steps in folds), seen
