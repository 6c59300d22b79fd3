"""K classes: K-way formatting of multiple choice, K declared or inferred, and the label checks before training."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from ensemw2s.trainer.data import (
    DatasetError,
    Example,
    ExampleFormat,
    LabelledItem,
    MultipleChoiceItem,
    Splits,
    check_split_labels,
    choice_count,
    choices_text,
    count_classes,
    format_examples,
    load_local_items,
    to_choice_examples,
)
from ensemw2s.trainer.data.formatting import choice_letter


def _mc(i: int, choices: int = 4, answer: int = 0) -> MultipleChoiceItem:
    return MultipleChoiceItem(f"q{i}", f"question {i}?", tuple(f"c{i}-{j}" for j in range(choices)), answer, i / 100)


def _texts(*labels: int) -> list[LabelledItem]:
    return [LabelledItem(f"t{i}", f"text {i}", label) for i, label in enumerate(labels)]


def _examples(*labels: int) -> list[Example]:
    return [Example(f"t{i}", f"text {i}", label) for i, label in enumerate(labels)]


def test_choices_text_letters_every_choice():
    assert choices_text("What is H2O?", ["fire", "water"]) == "Q: What is H2O? Choices: (A) fire (B) water A:"
    assert [choice_letter(i) for i in (0, 25, 26)] == ["A", "Z", "27"]


def test_choices_format_lists_the_choices_and_labels_the_answer_position():
    items = [_mc(i, answer=i % 4) for i in range(200)]
    examples, num_classes = format_examples(items, ExampleFormat.CHOICES, None, seed=1)
    assert num_classes == 4
    for item, example in zip(items, examples, strict=True):
        assert (example.id, example.difficulty) == (item.id, item.difficulty)
        assert example.text.startswith(f"Q: {item.question} Choices: (A) ") and example.text.endswith(" A:")
        shown = example.text.split(f"({choice_letter(example.label)}) ")[1].split(" (")[0].removesuffix(" A:")
        assert shown == item.correct_answer
        assert sorted(c for c in item.choices if c in example.text) == sorted(item.choices)


def test_choices_are_shuffled_so_an_answer_always_first_is_not_a_class():
    examples = to_choice_examples([_mc(i, answer=0) for i in range(400)], seed=0)  # as sciq: the answer first
    counts = Counter(e.label for e in examples)
    assert set(counts) == {0, 1, 2, 3} and min(counts.values()) > 60


def test_choices_format_is_deterministic_given_seed():
    items = [_mc(i) for i in range(50)]
    assert to_choice_examples(items, seed=7) == to_choice_examples(items, seed=7)
    assert to_choice_examples(items, seed=7) != to_choice_examples(items, seed=8)


def test_choices_from_a_local_file_become_one_k_way_example_each(tmp_path):
    path = tmp_path / "mc.jsonl"
    rows = [{"question": f"q{i}", "choices": ["a", "b", "c"], "answer": i % 3} for i in range(30)]
    path.write_text("\n".join(json.dumps(row) for row in rows))
    examples, num_classes = format_examples(load_local_items(str(path)), ExampleFormat.CHOICES, 3, seed=0)
    assert num_classes == 3 and len(examples) == 30
    assert all(e.text.count("(") == 3 for e in examples)


def test_unequal_choice_counts_name_both_items():
    items = [_mc(0), _mc(1), _mc(2, choices=3)]
    with pytest.raises(DatasetError) as caught:
        format_examples(items, ExampleFormat.CHOICES, None, seed=0)
    assert str(caught.value) == (
        "spec.dataset.format: choices needs the same number of choices on every item "
        "(got 3 on item 'q2', 4 on item 'q0'); drop or pad the items with other counts, or use format: binary"
    )


def test_unequal_choice_counts_are_fine_for_the_binary_format():
    examples, num_classes = format_examples([_mc(0), _mc(1, choices=3)] * 20, ExampleFormat.BINARY, None, seed=0)
    assert num_classes == 2 and {e.label for e in examples} == {0, 1}


def test_num_classes_must_match_the_number_of_choices():
    with pytest.raises(DatasetError, match=r"spec.dataset.numClasses: must equal the number of choices .* \(got 5;"):
        format_examples([_mc(i) for i in range(8)], ExampleFormat.CHOICES, 5, seed=0)


def test_choice_count_without_multiple_choice_items():
    assert choice_count(_texts(0, 1)) is None


@pytest.mark.parametrize("example_format", list(ExampleFormat))
def test_labelled_texts_pass_through_and_k_is_inferred(example_format):
    examples, num_classes = format_examples(_texts(0, 3, 1, 2, 3), example_format, None, seed=0)
    assert num_classes == 4
    assert examples[1] == Example("t1", "text 1", 3)


def test_k_is_at_least_the_number_of_choices_with_texts_mixed_in():
    examples, num_classes = format_examples([_mc(i) for i in range(40)] + _texts(0, 1), ExampleFormat.CHOICES, None, 0)
    assert num_classes == 4 and len(examples) == 42


def test_declared_k_may_exceed_the_labels_present():
    assert count_classes(_examples(0, 1, 2, 3), declared=6) == 6


def test_a_label_outside_the_declared_k_names_the_item():
    with pytest.raises(DatasetError) as caught:
        count_classes(_examples(0, 1, 2, 3), declared=3)
    assert str(caught.value) == (
        "spec.dataset.numClasses: item 't3' needs a label in 0..2 (got 3); fix the item's label or raise numClasses"
    )


@pytest.mark.parametrize(
    ("labels", "declared", "got"),
    [((0, 0, 0), None, "only label 0"), ((2, 2), 4, "only label 2"), ((1,), None, "only label 1"), ((), None, "no")],
)
def test_a_single_class_is_refused_before_training(labels, declared, got):
    with pytest.raises(DatasetError) as caught:
        count_classes(_examples(*labels), declared=declared)
    assert str(caught.value).startswith(f"spec.dataset: a classifier needs examples of at least 2 classes (got {got}")
    assert str(caught.value).endswith("; check the label column or add items of the other classes")


def test_split_labels_must_lie_within_k():
    ok = _examples(0, 1, 2, 3)
    check_split_labels(Splits(ok, ok, ok, ok), num_classes=4)
    with pytest.raises(DatasetError) as caught:
        check_split_labels(Splits(ok, ok, ok, [Example("x9", "t", 4)]), num_classes=4)
    assert str(caught.value) == (
        "split hard_test: item 'x9' needs a label in 0..3 (got 4); check how the split was built"
    )


def test_a_split_with_one_class_is_refused() -> None:
    """Labels that follow difficulty leave the easy split one class: weak models would learn nothing."""
    mixed = [Example(f"m{i}", "t", i % 2) for i in range(4)]
    only_zero = [Example(f"z{i}", "t", 0) for i in range(4)]
    with pytest.raises(DatasetError, match=r"^spec.dataset.split: split easy holds only label 0 \(4 examples"):
        check_split_labels(Splits(easy=only_zero, val=mixed, hard_train=mixed, hard_test=mixed), 2)
    with pytest.raises(DatasetError, match=r"split hard_test holds only label 0"):
        check_split_labels(Splits(easy=mixed, val=mixed, hard_train=mixed, hard_test=only_zero), 2)
    check_split_labels(Splits(easy=mixed, val=only_zero, hard_train=mixed, hard_test=mixed), 2)  # val may
