"""Fixtures: a tiny experiment on the offline presets (seconds on a CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ensemw2s.spec import ExperimentManifest, load_manifest, parse_manifest
from ensemw2s.trainer.progress import SilentProgress
from ensemw2s.trainer.runner import run_experiment

TINY = {
    "apiVersion": "ensemw2s.io/v1alpha1",
    "kind": "EnsemW2SExperiment",
    "metadata": {"name": "tiny"},
    "spec": {
        "seeds": [1],
        "dataset": {
            "name": "synthetic-sentiment",
            "maxItems": 800,
            "sizes": {"easy": 160, "val": 60, "hardTrain": 120, "hardTest": 80},
        },
        "weak": {
            "model": "tiny-weak",
            "rounds": 3,
            "training": {"epochs": 6, "batchSize": 16, "learningRate": 0.001, "maxLength": 24},
        },
        "strong": {
            "model": "tiny-strong",
            "training": {
                "epochs": 2,
                "batchSize": 16,
                "learningRate": 0.001,
                "maxLength": 24,
                "checkpointEverySteps": 2,
            },
        },
        "runtime": {"threads": 1},
    },
}


@pytest.fixture(scope="session")
def tiny_data() -> dict[str, object]:
    return TINY


@pytest.fixture
def tiny_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


@pytest.fixture
def tiny_manifest(tiny_file: Path) -> ExperimentManifest:
    return load_manifest(tiny_file)


@pytest.fixture(scope="session")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[ExperimentManifest, Path]:
    """The tiny experiment, run once uninterrupted for the whole session."""
    manifest = parse_manifest(TINY)
    store = tmp_path_factory.mktemp("store")
    run_experiment(manifest, str(store), SilentProgress())
    return manifest, store
