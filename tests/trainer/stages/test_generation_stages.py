"""``task: generation`` through the real stages on tiny presets: token boosting, ensemble decoding, SFT students.

The weak learners and the students are tiny GPT-2 LMs trained from scratch (seconds on a CPU); the
synthetic word-ops task gives them questions whose answers they can learn on the easy side.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from ensemw2s.spec import ExperimentManifest, Stage, load_manifest, parse_manifest
from ensemw2s.trainer.method.token_boosting import TokenRound
from ensemw2s.trainer.models.causal_lm import LoadedCausalLM
from ensemw2s.trainer.progress import SilentProgress
from ensemw2s.trainer.runner import run_experiment
from ensemw2s.trainer.stages.generation.prepared import answers_file
from ensemw2s.trainer.stages.generation.weak import LEARNER_DIR, SCORES_FILE, TOKEN_WEIGHTS_FILE
from ensemw2s.trainer.training import teacher_forced
from ensemw2s.trainer.training.answer_encoding import EncodedAnswers

TRAINING = {"epochs": 6, "batchSize": 8, "learningRate": 0.001, "maxLength": 32, "checkpointEverySteps": 20}
GENERATION: dict[str, Any] = {
    "apiVersion": "ensemw2s.io/v1alpha1",
    "kind": "EnsemW2SExperiment",
    "metadata": {"name": "tinygen"},
    "spec": {
        "task": "generation",
        "seeds": [1],
        "dataset": {"name": "synthetic-word-ops", "sizes": {"easy": 160, "val": 32, "hardTrain": 32, "hardTest": 32}},
        "weak": {"model": "tiny-weak", "rounds": 3, "errorEstimate": "train", "training": TRAINING},
        "strong": {"model": "tiny-weak", "training": {**TRAINING, "epochs": 3}},
        "generation": {"maxNewTokens": 6, "window": 1},
        "runtime": {"threads": 1},
    },
}
ROOT = "default/tinygen"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[ExperimentManifest, Path]:
    """The tiny generation experiment, run once uninterrupted for the module."""
    manifest = parse_manifest(GENERATION)
    store = tmp_path_factory.mktemp("generation")
    run_experiment(manifest, str(store), SilentProgress())
    return manifest, store


def _stage_folder(store: Path, relative: str) -> Path:
    found = [path.parent for path in store.glob(f"{ROOT}/s1/{relative}/*/stage.json")]
    assert len(found) == 1, found
    return found[0]


def test_generation_reports_exact_match_with_every_prefix_and_its_val_criterion(
    generated: tuple[ExperimentManifest, Path],
) -> None:
    _, store = generated
    results = json.loads((store / ROOT / "results.json").read_text())
    assert results["metric"] == "exact_match"
    seed = results["seeds"][0]
    assert [prefix["rounds"] for prefix in seed["prefix"]] == list(range(1, len(seed["rounds"]) + 1))
    assert all(prefix["valLogLoss"] is not None and prefix["valBrier"] is None for prefix in seed["prefix"])
    losses = [prefix["valLogLoss"] for prefix in seed["prefix"]]
    assert seed["chosenRound"] == max(r for r, loss in enumerate(losses, start=1) if loss <= min(losses) + 1e-12)
    accuracies = seed["accuracies"]
    assert set(accuracies) == {"weak", "weakEnsemble", "w2s", "ensemw2s", "ceiling"}
    assert accuracies["weak"] == seed["rounds"][0]["hardTestAccuracy"]
    assert seed["rounds"][0]["alpha"] > 0, "round 0 is better than chance on the easy answer tokens"
    report = (store / ROOT / "report.md").read_text()
    assert "Hard-test exact match" in report


def test_rounds_persist_token_weights_that_the_next_round_trains_under(
    generated: tuple[ExperimentManifest, Path],
) -> None:
    _, store = generated
    first = TokenRound.from_arrays(dict(np.load(_stage_folder(store, "weak/r0") / TOKEN_WEIGHTS_FILE)))
    second = TokenRound.from_arrays(dict(np.load(_stage_folder(store, "weak/r1") / TOKEN_WEIGHTS_FILE)))
    np.testing.assert_allclose(first.weights, 1.0 / first.answers.num_tokens)
    np.testing.assert_allclose(second.weights, first.next_weights)
    assert first.window == 1 and not np.allclose(first.next_weights, first.weights), "round 0's errors moved weights"


def test_a_stored_learner_reloads_to_its_own_val_scores(generated: tuple[ExperimentManifest, Path]) -> None:
    _, store = generated
    folder = _stage_folder(store, "weak/r1")
    learner = LoadedCausalLM.load(folder / LEARNER_DIR)
    val = EncodedAnswers.load(_stage_folder(store, "prepare") / answers_file("val"))
    stored = np.load(folder / SCORES_FILE)["val_gold_probabilities"]
    np.testing.assert_allclose(teacher_forced(learner.model, val, 16).gold_probabilities, stored, atol=1e-5)


def test_students_learn_their_own_supervisors_answers(generated: tuple[ExperimentManifest, Path]) -> None:
    _, store = generated
    round0 = json.loads((_stage_folder(store, "weak/r0") / "answers.json").read_text())
    w2s = json.loads((_stage_folder(store, "strong/w2s") / "answers.json").read_text())
    assert [target.strip() for target in w2s["hardTrain"]] == [text.strip() for text in round0["hardTrain"]]
    ceiling = json.loads((_stage_folder(store, "strong/ceiling") / "student.json").read_text())
    assert ceiling["labelAccuracy"] == 1.0, "the ceiling learns the gold answers"


def _wait_for_round_checkpoint(root: Path, process: subprocess.Popen[bytes], timeout: float = 180) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(root.glob(f"{ROOT}/s1/weak/r1/*.partial/checkpoints/full/step-*"))
        if found:
            return found[0]
        if process.poll() is not None:
            pytest.fail(f"the run ended before round 1 checkpointed (exit {process.returncode})")
        time.sleep(0.05)
    pytest.fail("no round-1 checkpoint within the timeout")


def test_a_run_killed_mid_round_resumes_to_identical_results(
    tmp_path: Path, generated: tuple[ExperimentManifest, Path]
) -> None:
    spec_file = tmp_path / "generation.yaml"
    spec_file.write_text(yaml.safe_dump(GENERATION))
    store = tmp_path / "store"
    process = subprocess.Popen(
        [sys.executable, "-m", "ensemw2s.trainer", "all", "--spec", str(spec_file), "--store", str(store)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        checkpoint = _wait_for_round_checkpoint(store, process)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not (store / ROOT / "results.json").exists()

    resumed = run_experiment(load_manifest(spec_file), str(store), SilentProgress())

    skipped = {name for name, summary in resumed.summaries.items() if summary.skipped}
    assert {"prepare-s1", "weak-s1-r0"} <= skipped, "finished stages are not redone"
    assert not checkpoint.exists(), "the resumed round finished and published its folder"
    _, reference = generated
    for relative in ("results.json",):
        assert json.loads((store / ROOT / relative).read_text()) == json.loads(
            (reference / ROOT / relative).read_text()
        )
    for stage in ("weak/r1", "weak/r2"):
        ours, theirs = _stage_folder(store, stage), _stage_folder(reference, stage)
        np.testing.assert_array_equal(
            np.load(ours / TOKEN_WEIGHTS_FILE)["next"], np.load(theirs / TOKEN_WEIGHTS_FILE)["next"]
        )


def test_the_same_graph_as_classification(generated: tuple[ExperimentManifest, Path]) -> None:
    manifest, _ = generated
    from ensemw2s.spec import build_stage_graph

    names = build_stage_graph(manifest.spec).names()
    assert names == [
        "prepare-s1", "weak-s1-r0", "weak-s1-r1", "weak-s1-r2", "aggregate-s1",
        "strong-s1-ensemble", "strong-s1-w2s", "strong-s1-ceiling", "report",
    ]  # fmt: skip
    assert Stage.parse("weak-s1-r1") in build_stage_graph(manifest.spec).stages


def test_lora_rounds_store_adapters_and_the_ensemble_shares_one_base(tmp_path: Path) -> None:
    data = json.loads(json.dumps(GENERATION))
    data["spec"]["weak"]["rounds"] = 2
    data["spec"]["weak"]["lora"] = {"r": 4, "alpha": 8, "targetModules": ["c_attn"]}
    data["spec"]["weak"]["training"]["epochs"] = 2
    # Adapters over a frozen random base learn little in two epochs: bagging keeps both rounds whatever
    # their errors, and `last` decodes the two-learner prefix whatever val says.
    data["spec"]["ensemble"] = {"method": "bagging", "roundSelection": "last"}
    only = [Stage.parse(name) for name in ("prepare-s1", "weak-s1-r0", "weak-s1-r1", "aggregate-s1")]
    run_experiment(parse_manifest(data), str(tmp_path), SilentProgress(), only=only)

    from ensemw2s.trainer.models.causal_lm import load_ensemble_learners

    folders = [_stage_folder(tmp_path, f"weak/r{t}") / LEARNER_DIR for t in (0, 1)]
    for folder in folders:
        files = {path.name for path in folder.iterdir()}
        assert {"adapter_config.json", "adapter_model.safetensors"} <= files and "model.safetensors" not in files
    learners = load_ensemble_learners(folders, [1.0, 1.0])
    assert learners[0].model is learners[1].model, "the base is loaded once and the adapters mixed over it"
    aggregate = json.loads((_stage_folder(tmp_path, "aggregate") / "aggregate.json").read_text())
    assert aggregate["boosting"]["chosenRound"] == 2
    answers = json.loads((_stage_folder(tmp_path, "aggregate") / "answers.json").read_text())
    assert len(answers["hardTrain"]) == 32, "the two-adapter ensemble wrote every pseudo-answer"


def test_crossfit_measures_every_easy_answer_token_out_of_sample(tmp_path: Path) -> None:
    data = json.loads(json.dumps(GENERATION))
    data["spec"]["weak"]["errorEstimate"] = "crossfit"
    data["spec"]["weak"]["training"]["epochs"] = 2
    run_experiment(
        parse_manifest(data),
        str(tmp_path),
        SilentProgress(),
        only=[Stage.parse("prepare-s1"), Stage.parse("weak-s1-r0")],
    )
    folder = _stage_folder(tmp_path, "weak/r0")
    boosted = TokenRound.from_arrays(dict(np.load(folder / TOKEN_WEIGHTS_FILE)))
    easy = EncodedAnswers.load(_stage_folder(tmp_path, "prepare") / answers_file("easy"))
    assert boosted.errors.shape == (easy.answers.num_tokens,)
    record = json.loads((folder / "round.json").read_text())["learner"]
    assert record["errorEstimate"] == "crossfit" and record["easyErrorRate"] == boosted.errors.mean()
