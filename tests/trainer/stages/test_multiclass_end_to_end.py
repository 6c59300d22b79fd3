"""The whole pipeline on the built-in K = 4 task: heads sized K, SAMME's ln(K - 1), all five models."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ensemw2s.spec import ExperimentManifest, Stage, parse_manifest
from ensemw2s.spec.results import ExperimentResults
from ensemw2s.trainer.data import DatasetError
from ensemw2s.trainer.progress import SilentProgress
from ensemw2s.trainer.runner import run_experiment
from ensemw2s.trainer.stages.records import PreparedExamples, RoundRecord

K = 4
TOPICS = {
    "apiVersion": "ensemw2s.io/v1alpha1",
    "kind": "EnsemW2SExperiment",
    "metadata": {"name": "topics"},
    "spec": {
        "seeds": [1],
        "dataset": {
            "name": "synthetic-topics",
            "maxItems": 320,
            "sizes": {"easy": 120, "val": 32, "hardTrain": 80, "hardTest": 48},
        },
        "weak": {
            "model": "tiny-weak",
            "rounds": 2,
            "training": {"epochs": 8, "batchSize": 32, "learningRate": 0.008, "maxLength": 20},
        },
        "strong": {
            "model": "tiny-strong",
            "training": {"epochs": 1, "batchSize": 32, "learningRate": 0.002, "maxLength": 20},
        },
        "runtime": {"threads": 1},
    },
}


@pytest.fixture(scope="module")
def topics_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[ExperimentManifest, Path]:
    manifest = parse_manifest(TOPICS)
    store = tmp_path_factory.mktemp("topics-store")
    run_experiment(manifest, str(store), SilentProgress())
    return manifest, store / "default" / "topics"


def _read(root: Path, pattern: str) -> Any:
    """An .npz file's arrays."""
    return np.load(next(root.rglob(pattern)))


def test_prepare_records_k_and_every_label_is_in_range(topics_run: tuple[ExperimentManifest, Path]) -> None:
    _, root = topics_run
    examples = _examples(root)
    assert examples.num_classes == K
    labels = _read(root, "prepare/*/labels.npz")
    for split in ("easy", "val", "hard_train", "hard_test"):
        assert set(labels[split].tolist()) <= set(range(K))
    assert set(labels["easy"].tolist()) == set(range(K))


def test_every_head_has_k_outputs(topics_run: tuple[ExperimentManifest, Path]) -> None:
    _, root = topics_run
    for pattern in ("weak/r0/*/preds.npz", "weak/r1/*/preds.npz", "aggregate/*/ensemble.npz"):
        for split, probs in _read(root, pattern).items():
            assert probs.ndim == 2 and probs.shape[1] == K, (pattern, split, probs.shape)
    for variant in ("ensemble", "w2s", "ceiling"):
        probs = _read(root, f"strong/{variant}/*/preds.npz")["hard_test"]
        assert probs.shape == (48, K)
        assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)


def test_boosting_alphas_use_ln_k_minus_1(topics_run: tuple[ExperimentManifest, Path]) -> None:
    _, root = topics_run
    records = [RoundRecord.model_validate_json(path.read_text()) for path in sorted(root.rglob("weak/r*/*/round.json"))]
    learners = [r.learner for r in records if r.learner is not None]
    weighted = [r for r in learners if r.alpha is not None and 0.0 < r.eps < 1.0 - 1.0 / K]
    assert weighted, f"no round with a SAMME alpha to check: {records}"
    for learner in weighted:
        eps = learner.eps
        assert learner.alpha == pytest.approx(math.log((1.0 - eps) / eps) + math.log(K - 1))


def test_results_exist_for_all_five_models(topics_run: tuple[ExperimentManifest, Path]) -> None:
    _, root = topics_run
    results = ExperimentResults.model_validate_json((root / "results.json").read_text())
    accuracies = results.seeds[0].accuracies
    for model in ("weak", "weak_ensemble", "w2s", "ensemw2s", "ceiling"):
        assert getattr(accuracies, model) is not None, model
    labels = _read(root, "prepare/*/labels.npz")["hard_test"]
    ceiling = _read(root, "strong/ceiling/*/preds.npz")["hard_test"]
    assert accuracies.ceiling == pytest.approx(float(np.mean(ceiling.argmax(1) == labels)))


def _examples(root: Path) -> PreparedExamples:
    return PreparedExamples.model_validate_json(next(root.rglob("prepare/*/examples.json")).read_text())


def _prepare_only(tmp_path: Path, **dataset: Any) -> PreparedExamples:
    data = json.loads(json.dumps(TOPICS))
    data["spec"]["dataset"].update(dataset)
    run_experiment(parse_manifest(data), str(tmp_path), SilentProgress(), only=[Stage.parse("prepare-s1")])
    return _examples(tmp_path)


def test_kfold_difficulty_cross_fits_a_k_way_weak_model(tmp_path: Path) -> None:
    examples = _prepare_only(tmp_path, difficulty={"method": "kfold", "folds": 2})
    assert examples.num_classes == K
    easy = [e.difficulty for e in examples.easy]
    hard = [e.difficulty for e in examples.hard_test]
    assert all(d is not None and 0.0 <= d <= 1.0 for d in easy)
    assert max(d for d in easy if d is not None) <= min(d for d in hard if d is not None)


def _choice_file(tmp_path: Path) -> Path:
    path = tmp_path / "mc.jsonl"
    rows = [
        {
            "question": f"which word is {i % 3}?",
            "choices": ["zero", "one", "two"],
            "answer": i % 3,
            "difficulty": i / 400,
        }
        for i in range(400)
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows))
    return path


def test_multiple_choice_as_k_way_examples(tmp_path: Path) -> None:
    source = _choice_file(tmp_path)
    examples = _prepare_only(tmp_path / "store", name="local", source=str(source), format="choices")
    assert examples.num_classes == 3
    assert all(" Choices: (A) " in e.text and "(D)" not in e.text for e in examples.easy)


def test_a_single_class_dataset_fails_before_training(tmp_path: Path) -> None:
    source = tmp_path / "one.jsonl"
    source.write_text(
        "\n".join(json.dumps({"text": f"text {i}", "label": 2, "difficulty": i / 400}) for i in range(400))
    )
    with pytest.raises(
        DatasetError, match=r"spec.dataset: a classifier needs examples of at least 2 classes \(got only label 2\)"
    ):
        _prepare_only(tmp_path / "store", name="local", source=str(source))
    assert not list((tmp_path / "store").rglob("tokens-*"))


def test_the_topics_generator_version_is_part_of_the_prepare_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from ensemw2s.trainer import keys

    spec_json = parse_manifest(TOPICS).spec.model_dump_json()
    before = dict(keys._stage_keys(spec_json))
    keys._stage_keys.cache_clear()
    monkeypatch.setattr(keys, "TOPICS_GENERATOR_VERSION", keys.TOPICS_GENERATOR_VERSION + 1)
    after = dict(keys._stage_keys(spec_json))
    keys._stage_keys.cache_clear()
    prepare = Stage.parse("prepare-s1")
    assert before[prepare] != after[prepare]
