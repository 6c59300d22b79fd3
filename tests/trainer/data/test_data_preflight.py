"""Preflight: the data and model checks a run makes before its first stage, and prepare makes again.

The corpus of broken inputs (and their messages) is in tests/cli/test_cli_validate.py; here: what a run
does with them (a permanent error before any stage), the shared split path and the safetensors check.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
from ensemw2s.spec import Stage, StageKind, parse_manifest, parse_spec
from ensemw2s.trainer.data import DatasetError, Example, difficulty_from_proxy, easy_to_hard_split, random_split
from ensemw2s.trainer.data.preparation import split_pool
from ensemw2s.trainer.errors import StageFailed, is_permanent
from ensemw2s.trainer.preflight import check_preflight, preflight, safetensors_problem
from ensemw2s.trainer.progress import SilentProgress
from ensemw2s.trainer.runner import run_experiment
from ensemw2s.trainer.stages import run_stage

SIZES = {"easy": 20, "val": 10, "hardTrain": 20, "hardTest": 10}


def _manifest(source: Path, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ensemw2s.io/v1alpha1",
        "kind": "EnsemW2SExperiment",
        "metadata": {"name": "preflight"},
        "spec": {
            "seeds": [3],
            "dataset": {"name": "local", "source": str(source), "sizes": SIZES, "difficulty": {"method": "proxy"}},
            "weak": {"model": "tiny-weak"},
            "strong": {"model": "tiny-strong"},
            **spec,
        },
    }


def _data(tmp_path: Path, labels: list[int]) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text(
        "".join(json.dumps({"text": f"text {'word ' * (i % 7)}{i}", "label": y}) + "\n" for i, y in enumerate(labels))
    )
    return path


def test_a_good_local_dataset_has_no_problems(tmp_path: Path) -> None:
    manifest = parse_manifest(_manifest(_data(tmp_path, [i % 2 for i in range(100)])))
    assert preflight(manifest.spec) == []
    assert check_preflight(manifest.spec) == []


def test_a_one_class_dataset_stops_the_run_before_any_stage(tmp_path: Path) -> None:
    manifest = parse_manifest(_manifest(_data(tmp_path, [1] * 100)))
    store = tmp_path / "store"
    with pytest.raises(DatasetError, match=r"needs examples of at least 2 classes \(got only label 1\)") as caught:
        run_experiment(manifest, str(store), SilentProgress())
    assert is_permanent(caught.value)
    assert not store.exists()


def test_prepare_stops_on_a_broken_strong_model_before_loading_data(tmp_path: Path) -> None:
    """On a cluster prepare is the first Job: a missing strong model fails it (permanently), not hours later."""
    data = _manifest(_data(tmp_path, [i % 2 for i in range(100)]), strong={"model": str(tmp_path / "no-model")})
    manifest = parse_manifest(data)
    with pytest.raises(StageFailed) as caught:
        run_stage(manifest, Stage(StageKind.PREPARE, 3), str(tmp_path / "store"), SilentProgress())
    assert "spec.strong.model: local directory does not exist" in str(caught.value)
    assert is_permanent(caught.value)


def test_model_only_problems_raise_a_model_error(tmp_path: Path) -> None:
    from ensemw2s.trainer.models import ModelError

    spec = parse_manifest(_manifest(_data(tmp_path, [i % 2 for i in range(100)]), weak={"model": "./nowhere"})).spec
    with pytest.raises(ModelError, match=r"^spec.weak.model: local directory does not exist \(got './nowhere'\)"):
        check_preflight(spec)


def _pool(n: int) -> list[Example]:
    return [Example(f"e{i}", "word " * (i % 9 + 1), i % 2, i / n) for i in range(n)]


@pytest.mark.parametrize("split", ["random", "e2h"])
def test_split_pool_is_the_split_functions(split: str) -> None:
    """Prepare and the preflight share split_pool; it is exactly the split functions it composes."""
    spec = parse_spec(
        {
            "dataset": {
                "name": "local",
                "source": "x.jsonl",
                "sizes": SIZES,
                "split": split,
                "difficulty": {"method": "proxy"},
            },
            "weak": {"model": "tiny-weak"},
            "strong": {"model": "tiny-strong"},
        }
    )
    examples = _pool(100)
    splits = split_pool(spec.dataset, examples, 2, seed=5)
    if split == "random":
        expected = random_split(examples, spec.dataset.sizes, seed=5)
    else:
        difficulty = difficulty_from_proxy(examples, "length")
        rated = [Example(e.id, e.text, e.label, float(d)) for e, d in zip(examples, difficulty, strict=True)]
        expected = easy_to_hard_split(rated, difficulty, spec.dataset.sizes, seed=5)
    assert splits == expected


def test_split_pool_needs_a_model_for_kfold() -> None:
    spec = parse_spec(
        {
            "dataset": {"name": "local", "source": "x.jsonl", "sizes": SIZES, "difficulty": {"method": "kfold"}},
            "weak": {"model": "tiny-weak"},
            "strong": {"model": "tiny-strong"},
        }
    )
    with pytest.raises(DatasetError, match=r"kfold needs a model to rate the examples"):
        split_pool(spec.dataset, _pool(100), 2, seed=0)


def _safetensors(path: Path, declared_end: int, data: int) -> Path:
    header = json.dumps(
        {"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, declared_end]}}
    )
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + bytes(data))
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: _safetensors(p, 8, 8), None),
        (lambda p: _safetensors(p, 8, 5), "but its header describes"),
        (lambda p: _safetensors(p, 8, 9), "but its header describes"),
        (lambda p: p.write_bytes(b"\x01\x02") and p, "shorter than its 8-byte header length"),
        (lambda p: p.write_bytes(struct.pack("<Q", 10**9) + b"{}") and p, "header length 1000000000 does not fit"),
        (lambda p: p.write_bytes(struct.pack("<Q", 2) + b"[]") and p, "its header is not a JSON object"),
    ],
)
def test_safetensors_problem(tmp_path: Path, make: Any, reason: str | None) -> None:
    path = tmp_path / "model.safetensors"
    make(path)
    found = safetensors_problem(path)
    assert found is None if reason is None else reason in str(found)


def test_the_check_matches_real_safetensors_files(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    path = tmp_path / "real.safetensors"
    save_file({"a": torch.zeros(3, 2), "b": torch.ones(5, dtype=torch.int64)}, str(path))
    assert safetensors_problem(path) is None
    path.write_bytes(path.read_bytes()[:-1])
    assert "truncated or overwritten" in str(safetensors_problem(path))


def test_proxy_difficulty_is_not_required_in_the_file(tmp_path: Path) -> None:
    """difficulty: column (the default) needs a value on every row; proxy and random splits need none."""
    source = _data(tmp_path, [i % 2 for i in range(100)])
    column = _manifest(source)
    column["spec"]["dataset"]["difficulty"] = {"method": "column"}
    assert [str(p) for p in preflight(parse_manifest(column).spec)] == [
        f"{source}: no row has a 'difficulty' value, which spec.dataset.difficulty.method column (the default) "
        "needs on every row; add a difficulty column, or set spec.dataset.difficulty.method to proxy or kfold"
    ]
    assert preflight(parse_manifest(_manifest(source)).spec) == []
    column["spec"]["dataset"]["split"] = "random"
    assert preflight(parse_manifest(column).spec) == []
