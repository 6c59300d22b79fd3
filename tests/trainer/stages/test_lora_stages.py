"""A LoRA weak round and a LoRA student through the real stages: they train, store only adapters and head, and the
stored folder reloads to the stage's own predictions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from ensemw2s.spec import Stage, parse_manifest
from ensemw2s.trainer.models import LoadedClassifier
from ensemw2s.trainer.progress import SilentProgress
from ensemw2s.trainer.runner import run_experiment
from ensemw2s.trainer.stages.prepared import Role, tokens_file
from ensemw2s.trainer.stages.strong import STUDENT_DIR, STUDENT_PREDICTIONS
from ensemw2s.trainer.stages.weak import LEARNER_DIR, PREDICTIONS_FILE
from ensemw2s.trainer.training import EncodedTexts, predict_proba
from safetensors.torch import load_file

STORED = {"adapter_config.json", "adapter_model.safetensors", "classifier.json", "source.json"}


def test_lora_round_and_student_store_adapters_that_reload_to_their_predictions(
    tiny_data: dict[str, Any], tmp_path: Path
) -> None:
    data = json.loads(json.dumps(tiny_data))
    data["spec"]["weak"]["lora"] = {"r": 8, "alpha": 16, "targetModules": ["c_attn"]}
    data["spec"]["weak"]["errorEstimate"] = "train"  # no fold models: the round's learner alone
    data["spec"]["strong"]["lora"] = {"r": 4, "dropout": 0.1}
    only = [Stage.parse(name) for name in ("prepare-s1", "weak-s1-r0", "strong-s1-ceiling")]
    run_experiment(parse_manifest(data), str(tmp_path), SilentProgress(), only=only)

    prepared = next(tmp_path.rglob("prepare/*/stage.json")).parent
    for role, folder, predictions, split in (
        (Role.WEAK, LEARNER_DIR, f"weak/r0/*/{PREDICTIONS_FILE}", "hard_test"),
        (Role.STRONG, STUDENT_DIR, f"strong/ceiling/*/{STUDENT_PREDICTIONS}", "hard_test"),
    ):
        stored = next(tmp_path.rglob(predictions))
        directory = stored.parent / folder
        files = {path.name for path in directory.iterdir()}
        assert files >= STORED and "model.safetensors" not in files, files
        updates = [t for name, t in load_file(str(directory / "adapter_model.safetensors")).items() if "lora_B" in name]
        assert updates and all(t.abs().sum() > 0 for t in updates), "the adapters trained (lora_B starts at zero)"
        reloaded = LoadedClassifier.load(directory)
        tokens = EncodedTexts.load(prepared / tokens_file(role, split))
        np.testing.assert_allclose(predict_proba(reloaded.model, tokens, 64), np.load(stored)[split], atol=1e-5)


def test_without_lora_no_model_is_stored(tiny_data: dict[str, Any], tmp_path: Path) -> None:
    only = [Stage.parse(name) for name in ("prepare-s1", "strong-s1-ceiling")]
    run_experiment(parse_manifest(tiny_data), str(tmp_path), SilentProgress(), only=only)
    assert not list(tmp_path.rglob(STUDENT_DIR)), "full fine-tuning keeps its outputs as before: predictions only"
