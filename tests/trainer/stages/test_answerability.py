"""A run that cannot answer the question says so in plain words, and reports no PGR."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ensemw2s.spec import parse_manifest
from ensemw2s.spec.results import ExperimentResults
from ensemw2s.trainer.progress import SilentProgress
from ensemw2s.trainer.runner import run_experiment


def test_nothing_learned_gives_notes_and_no_pgr(tiny_data: dict[str, Any], tmp_path: Path) -> None:
    data = copy.deepcopy(tiny_data)
    spec = data["spec"]
    spec["weak"]["rounds"] = 2
    spec["weak"]["training"]["learningRate"] = 1e-9  # neither model can learn anything
    spec["strong"]["training"]["learningRate"] = 1e-9
    run_experiment(parse_manifest(data), str(tmp_path), SilentProgress())
    results = ExperimentResults.model_validate_json((tmp_path / "default" / "tiny" / "results.json").read_text())
    seed = results.seeds[0]
    notes = " | ".join(seed.notes)
    assert "round 0 (the single weak model) is at chance on easy val data" in notes
    assert "the ceiling (the strong model trained on gold hard labels) is at chance on hard-test" in notes
    assert "raise spec.strong.training.epochs (now 2) or learningRate (now 1e-09)" in notes
    assert results.mean_pgr.w2s_vs_weak is None and results.mean_pgr_interval.w2s_vs_weak is None
    assert all(effect.verdict != "holds" for effect in results.effects)
    report = (tmp_path / "default" / "tiny" / "report.md").read_text()
    assert "is at chance on hard-test" in report
