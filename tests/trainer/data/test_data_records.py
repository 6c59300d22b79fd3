"""Records validate themselves; binary formatting follows the original weak-to-strong code."""

from __future__ import annotations

import math

import pytest
from ensemw2s.trainer.data import (
    BinaryItem,
    DatasetError,
    Example,
    LabelledItem,
    MultipleChoiceItem,
    multiple_choice_text,
    to_binary_examples,
)


def _mc(i: int, difficulty: float | None = None) -> MultipleChoiceItem:
    return MultipleChoiceItem(f"q{i}", f"question {i}?", (f"right{i}", f"wrong{i}a", f"wrong{i}b"), 0, difficulty)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: MultipleChoiceItem("a", "q", ("only",), 0), "at least 2 choices"),
        (lambda: MultipleChoiceItem("a", "q", ("x", "y"), 2), r"answer_index 2 is out of range \(allowed 0..1\)"),
        (lambda: MultipleChoiceItem("a", "q", ("x", "y"), -1), "out of range"),
        (lambda: MultipleChoiceItem("a", "q", ("x", "y"), 0, math.nan), "finite"),
        (lambda: BinaryItem("b", "t", 2), "label must be 0 or 1 .got 2"),
        (lambda: BinaryItem("b", "t", 1, math.inf), "finite"),
        (lambda: LabelledItem("l", "t", -1), r"labelled item 'l': label must be a class index >= 0 \(got -1\)"),
        (lambda: LabelledItem("l", "t", True), r"label must be a class index >= 0 \(got True\)"),
        (lambda: LabelledItem("l", "t", 3, math.nan), "finite"),
        (lambda: Example("e", "t", -1), "label must be a class index >= 0"),
        (lambda: Example("e", "t", 0, math.nan), "finite"),
    ],
)
def test_invalid_records_are_rejected(build, match):
    with pytest.raises(DatasetError, match=match):
        build()


def test_multiple_choice_item_exposes_answer_and_distractors():
    item = MultipleChoiceItem("a", "q", ("x", "y", "z"), 1)
    assert item.correct_answer == "y"
    assert item.distractors == ("x", "z")


def test_a_binary_item_is_a_labelled_item_with_k_2():
    assert isinstance(BinaryItem("b", "t", 1), LabelledItem)
    assert LabelledItem("l", "t", 7).label == 7


def test_binary_items_pass_through_with_difficulty():
    [example] = to_binary_examples([BinaryItem("b", "the text", 1, 0.3)], seed=0)
    assert example == Example("b", "the text", 1, 0.3)


def test_multiple_choice_formatting_shows_correct_or_distractor():
    items = [_mc(i, difficulty=i / 400) for i in range(400)]
    examples = to_binary_examples(items, seed=3)
    for item, example in zip(items, examples, strict=True):
        assert example.id == item.id
        assert example.difficulty == item.difficulty
        if example.label == 1:
            assert example.text == multiple_choice_text(item.question, item.correct_answer)
        else:
            assert example.text in {multiple_choice_text(item.question, d) for d in item.distractors}
    share_correct = sum(e.label for e in examples) / len(examples)
    assert 0.4 < share_correct < 0.6
    distractor_a = sum("wrong" in e.text and e.text.endswith("a") for e in examples)
    assert 0 < distractor_a < sum(1 - e.label for e in examples)  # both distractors are drawn


def test_formatting_text_shape():
    assert multiple_choice_text("What is H2O?", "water") == "Q: What is H2O? A: water"


def test_formatting_is_deterministic_given_seed():
    items = [_mc(i) for i in range(50)]
    assert to_binary_examples(items, seed=7) == to_binary_examples(items, seed=7)
    assert to_binary_examples(items, seed=7) != to_binary_examples(items, seed=8)
