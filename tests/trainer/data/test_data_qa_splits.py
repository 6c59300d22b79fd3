"""load_question_splits: the four splits of a generation experiment, generated or split from a loaded pool."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ensemw2s.spec import ChoiceAnswer, Dataset, SplitSizes
from ensemw2s.trainer.data import DatasetError
from ensemw2s.trainer.data.qa import QASplits
from ensemw2s.trainer.data.qa_splits import load_question_splits, split_questions
from ensemw2s.trainer.data.synthetic_generation import WordOpsKind, word_ops_kind, word_ops_splits

EASY_KINDS = {WordOpsKind.ONE_OP_SHORT, WordOpsKind.ONE_OP}
SIZES = {"easy": 12, "val": 4, "hard_train": 10, "hard_test": 6}


def dataset(**fields: Any) -> Dataset:
    return Dataset.model_validate({"name": "synthetic-word-ops", "sizes": SIZES, **fields})


def lengths(splits: QASplits) -> dict[str, int]:
    return {name: len(splits.by_name(name)) for name in ("easy", "val", "hard_train", "hard_test")}


def question_file(tmp_path: Path, rows: int, *, difficulty: bool = True) -> Path:
    path = tmp_path / "questions.jsonl"
    lines = []
    for i in range(rows):
        row: dict[str, Any] = {"question": f"what is {i} plus {'one ' * (i % 5)}?", "answer": str(i + 1)}
        if i % 3 == 0:
            row = {"question": f"pick {i}", "choices": [f"no {i}", f"yes {i}", "maybe"], "answer": "B"}
        if difficulty:
            row["difficulty"] = i / rows
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_synthetic_word_ops_is_generated_to_size() -> None:
    splits = load_question_splits(dataset(), seed=3, style=ChoiceAnswer.TEXT)
    assert splits == word_ops_splits(SplitSizes.model_validate(SIZES), 3)
    assert lengths(splits) == SIZES
    assert splits.sizes() == SplitSizes.model_validate(SIZES)
    for name in ("easy", "val"):
        assert all(word_ops_kind(item.id) in EASY_KINDS for item in splits.by_name(name))
    for name in ("hard_train", "hard_test"):
        assert not any(word_ops_kind(item.id) in EASY_KINDS for item in splits.by_name(name))


def test_splits_are_deterministic_given_the_seed() -> None:
    first = load_question_splits(dataset(), seed=1, style=ChoiceAnswer.TEXT)
    assert first == load_question_splits(dataset(), seed=1, style=ChoiceAnswer.TEXT)
    assert first != load_question_splits(dataset(), seed=2, style=ChoiceAnswer.TEXT)


def test_a_random_split_of_synthetic_word_ops_mixes_easy_and_hard() -> None:
    splits = load_question_splits(dataset(split="random", maxItems=400), seed=0, style=ChoiceAnswer.TEXT)
    assert lengths(splits) == SIZES
    kinds = {word_ops_kind(item.id) in EASY_KINDS for name in ("easy", "hard_test") for item in splits.by_name(name)}
    assert kinds == {True, False}


def test_a_local_file_splits_easy_to_hard_by_its_difficulty_column(tmp_path: Path) -> None:
    source = str(question_file(tmp_path, 40))
    splits = load_question_splits(dataset(name="local", source=source), seed=5, style=ChoiceAnswer.LETTER)
    assert lengths(splits) == SIZES
    easy = [item.difficulty for name in ("easy", "val") for item in splits.by_name(name)]
    hard = [item.difficulty for name in ("hard_train", "hard_test") for item in splits.by_name(name)]
    assert max(d for d in easy if d is not None) < min(d for d in hard if d is not None)
    every = [item for name in ("easy", "val", "hard_train", "hard_test") for item in splits.by_name(name)]
    assert len({item.id for item in every}) == sum(SIZES.values())
    choice_items = [item for item in every if item.choices]
    assert choice_items and all(item.answer == f" {item.answer_letter}" for item in choice_items)  # letter style
    assert splits == load_question_splits(dataset(name="local", source=source), seed=5, style=ChoiceAnswer.LETTER)


def test_a_proxy_rates_the_prompts(tmp_path: Path) -> None:
    source = str(question_file(tmp_path, 40, difficulty=False))
    spec_dataset = dataset(name="local", source=source, difficulty={"method": "proxy"})
    splits = load_question_splits(spec_dataset, seed=0, style=ChoiceAnswer.TEXT)
    easy = [item.difficulty or 0.0 for item in splits.easy]
    hard = [item.difficulty or 0.0 for item in splits.hard_test]
    assert max(easy) <= min(hard)


def test_a_random_split_ignores_difficulty(tmp_path: Path) -> None:
    source = str(question_file(tmp_path, 40, difficulty=False))
    splits = load_question_splits(dataset(name="local", source=source, split="random"), seed=0, style=ChoiceAnswer.TEXT)
    assert lengths(splits) == SIZES


def test_missing_difficulty_values_stop_a_column_split(tmp_path: Path) -> None:
    source = str(question_file(tmp_path, 40, difficulty=False))
    with pytest.raises(DatasetError, match=r"has no difficulty value \(method column needs one on every item\)"):
        load_question_splits(dataset(name="local", source=source), seed=0, style=ChoiceAnswer.TEXT)


def test_too_few_questions_for_the_sizes(tmp_path: Path) -> None:
    source = str(question_file(tmp_path, 40))
    with pytest.raises(DatasetError, match=r"spec.dataset.sizes"):
        load_question_splits(dataset(name="local", source=source, maxItems=20), seed=0, style=ChoiceAnswer.TEXT)


def test_kfold_cannot_rate_questions(tmp_path: Path) -> None:
    source = str(question_file(tmp_path, 40))
    spec_dataset = dataset(name="local", source=source, difficulty={"method": "kfold"})
    with pytest.raises(DatasetError, match=r"spec.dataset.difficulty.method: task generation cannot rate questions"):
        split_questions(spec_dataset, [], seed=0)


def test_by_name_refuses_an_unknown_split() -> None:
    splits = load_question_splits(dataset(), seed=0, style=ChoiceAnswer.TEXT)
    with pytest.raises(DatasetError, match=r"split name: unknown split 'train'"):
        splits.by_name("train")
