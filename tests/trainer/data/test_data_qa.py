"""QA formatting for task generation: each registry dataset's raw row, local question files, and loading."""

from __future__ import annotations

import json
import sys
import types

import pytest
from ensemw2s.trainer.data import (
    BinaryItem,
    DatasetError,
    LabelledItem,
    MultipleChoiceItem,
    get_dataset,
    hub_dataset_names,
    load_dataset_items,
)
from ensemw2s.trainer.data.qa import (
    ANSWER_END,
    QA_DATASETS,
    ChoiceAnswer,
    OpenQuestion,
    QAItem,
    qa_row,
    to_qa_item,
    to_qa_items,
)
from ensemw2s.trainer.data.qa_loading import load_qa_items
from ensemw2s.trainer.data.qa_local import load_local_questions
from ensemw2s.trainer.data.synthetic_generation import generate_word_ops

SCIQ_ROW = {
    "question": "What gas do plants take in?",
    "correct_answer": "carbon dioxide",
    "distractor1": "oxygen",
    "distractor2": "nitrogen",
    "distractor3": "helium",
    "support": "Plants take in carbon dioxide.",
}
ARC_ROW = {
    "id": "Mercury_1",
    "question": "Which tool is used to measure mass?",
    "choices": {"text": ["ruler", "balance", "thermometer", "clock"], "label": ["1", "2", "3", "4"]},
    "answerKey": "2",
}
QUARTZ_ROW = {
    "id": "quartz_1",
    "question": "If the air gets warmer, the ice melts",
    "choices": {"text": ["faster", "slower"], "label": ["A", "B"]},
    "answerKey": "A",
    "para": "Warmer air melts ice faster.",
}
BOOLQ_ROW = {"question": "is the sky blue", "passage": "The sky is\nblue on a clear day.", "answer": True}
COSMOS_ROW = {
    "id": "cosmos_1",
    "context": "I missed the bus this morning.",
    "question": "Why was I late?",
    "answer0": "I slept in.",
    "answer1": "I missed the bus.",
    "answer2": "The road was closed.",
    "answer3": "None of the above choices.",
    "label": 1,
}


def test_qa_datasets_are_registry_datasets():
    assert set(QA_DATASETS) <= set(hub_dataset_names())
    assert set(hub_dataset_names()) - set(QA_DATASETS) == {"amazon_polarity"}


def test_sciq_row_pins_the_prompt_format():
    item = qa_row("sciq", SCIQ_ROW, seed=0, row_id="sciq/train/0")
    assert item == QAItem(
        "sciq/train/0",
        "Q: What gas do plants take in?\nChoices: A) oxygen B) carbon dioxide C) helium D) nitrogen\nA:",
        " carbon dioxide",
        ("oxygen", "carbon dioxide", "helium", "nitrogen"),
        "B",
    )
    assert item.answer_index == 1 and item.target == " carbon dioxide\n" and ANSWER_END == "\n"


@pytest.mark.parametrize(
    ("dataset", "row", "question", "answer", "choices"),
    [
        ("sciq", SCIQ_ROW, SCIQ_ROW["question"], "carbon dioxide", {"carbon dioxide", "oxygen", "nitrogen", "helium"}),
        ("arc-easy", ARC_ROW, ARC_ROW["question"], "balance", {"ruler", "balance", "thermometer", "clock"}),
        ("arc-challenge", ARC_ROW, ARC_ROW["question"], "balance", {"ruler", "balance", "thermometer", "clock"}),
        ("quartz", QUARTZ_ROW, QUARTZ_ROW["question"], "faster", {"faster", "slower"}),
        (
            "cosmos_qa",
            COSMOS_ROW,
            "I missed the bus this morning. Why was I late?",
            "I missed the bus.",
            {COSMOS_ROW[f"answer{i}"] for i in range(4)},
        ),
    ],
)
@pytest.mark.parametrize("style", list(ChoiceAnswer))
def test_multiple_choice_rows(dataset, row, question, answer, choices, style):
    item = qa_row(dataset, row, seed=3, style=style)
    assert set(item.choices) == choices and item.answer_index is not None
    assert item.choices[item.answer_index] == answer
    listed = " ".join(f"{chr(ord('A') + i)}) {c}" for i, c in enumerate(item.choices))
    assert item.prompt == f"Q: {question}\nChoices: {listed}\nA:"
    assert item.answer == (f" {answer}" if style is ChoiceAnswer.TEXT else f" {item.answer_letter}")


def test_boolq_row_is_a_yes_no_question_on_one_line():
    item = qa_row("boolq", BOOLQ_ROW, seed=0)
    assert item == QAItem("", "Q: Passage: The sky is blue on a clear day. Question: is the sky blue?\nA:", " yes")
    assert qa_row("boolq", {**BOOLQ_ROW, "answer": False}, seed=0).answer == " no"


def test_a_dataset_without_answers_is_rejected():
    with pytest.raises(DatasetError, match=r"spec.dataset.name: 'amazon_polarity' has no questions and answers"):
        qa_row("amazon_polarity", {"title": "t", "content": "c", "label": 1}, seed=0)


def test_choice_order_is_seeded_per_item_not_per_batch():
    a = MultipleChoiceItem("a", "q1", ("w", "x", "y", "z"), 0)
    b = MultipleChoiceItem("b", "q2", ("w", "x", "y", "z"), 0)
    assert to_qa_items([a, b], seed=0) == to_qa_items([b, a], seed=0)[::-1]
    letters = {
        to_qa_item(MultipleChoiceItem(f"id{i}", "q", ("w", "x", "y", "z"), 0), seed=0).answer_letter for i in range(40)
    }
    assert letters == {"A", "B", "C", "D"}, "the correct answer is not always listed first"
    assert {to_qa_item(a, seed=s).prompt for s in range(10)} != {to_qa_item(a, seed=0).prompt}


def test_open_question_and_whitespace():
    item = to_qa_item(OpenQuestion("q", "What is\n2 + 2?", "  4 \n", 0.5), seed=0)
    assert item == QAItem("q", "Q: What is 2 + 2?\nA:", " 4", difficulty=0.5)
    assert item.answer_index is None


def test_a_class_label_is_not_an_answer():
    with pytest.raises(DatasetError, match=r"labelled item 'x': a class label is not an answer text \(got label 2\)"):
        to_qa_item(LabelledItem("x", "text", 2), seed=0)
    assert to_qa_item(BinaryItem("y", "is it", 0), seed=0).answer == " no"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"answer": "Paris"}, r"answer must be a non-empty text after one leading space.*got 'Paris'"),
        ({"answer": " Par\nis"}, r"without a newline \(got ' Par\\nis'\)"),
        ({"answer": " "}, r"answer must be a non-empty text"),
        ({"prompt": "  "}, r"prompt must be a non-empty text"),
        ({"answer_letter": "A"}, r"answer_letter is set without choices \(got 'A'\)"),
        (
            {"choices": ("x", "y"), "answer_letter": "C"},
            r"answer_letter must name one of 2..26 choices \(got 'C' with 2",
        ),
        ({"choices": ("x",), "answer_letter": "A"}, r"\(got 'A' with 1 choices\)"),
        ({"difficulty": float("nan")}, r"QA item 'i': difficulty must be a finite number"),
    ],
)
def test_qa_item_rejects_bad_fields(kwargs, message):
    fields = {"id": "i", "prompt": "Q: q\nA:", "answer": " a", **kwargs}
    with pytest.raises(DatasetError, match=message):
        QAItem(**fields)


def test_too_many_choices_cannot_be_lettered():
    item = MultipleChoiceItem("m", "q", tuple(f"c{i}" for i in range(27)), 0)
    with pytest.raises(DatasetError, match=r"at most 26 choices can be lettered \(got 27\)"):
        to_qa_item(item, seed=0)


@pytest.mark.parametrize("field", ["question", "answer"])
def test_open_question_needs_texts(field):
    fields = {"id": "o", "question": "q", "answer": "a", field: " \n"}
    with pytest.raises(DatasetError, match=rf"open question 'o': {field} must be a non-empty text"):
        OpenQuestion(**fields)


# Local question files


def _jsonl(tmp_path, *rows, name="qa.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return str(path)


def test_local_rows_of_both_shapes(tmp_path):
    source = _jsonl(
        tmp_path,
        {"question": "2+2?", "answer": 4, "difficulty": 0.1},
        {"question": "Capital of France?", "answer": "Paris", "id": "fr"},
        {"question": "Pick", "choices": ["x", "y", "z"], "answer": "z"},
        {"question": "Pick", "choices": ["x", "y", "z"], "answer": "b"},
        {"question": "Pick", "choices": ["x", "y", "z"], "answer": 0},
        {"question": "Pick", "choices": ["B", "A"], "answer": "A"},
        "",
        {"question": "Pick", "choices": ["x", "y"], "answer": "1"},
    )
    assert load_local_questions(source) == [
        OpenQuestion("qa.jsonl:1", "2+2?", "4", 0.1),
        OpenQuestion("fr", "Capital of France?", "Paris"),
        MultipleChoiceItem("qa.jsonl:3", "Pick", ("x", "y", "z"), 2),
        MultipleChoiceItem("qa.jsonl:4", "Pick", ("x", "y", "z"), 1),  # a letter, either case
        MultipleChoiceItem("qa.jsonl:5", "Pick", ("x", "y", "z"), 0),  # an index
        MultipleChoiceItem("qa.jsonl:6", "Pick", ("B", "A"), 1),  # a choice's text wins over a letter
        MultipleChoiceItem("qa.jsonl:8", "Pick", ("x", "y"), 1),  # digits: an index
    ]


def test_local_csv_rows(tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text('question,choices,answer\nPick,"[""x"", ""y""]",B\nHow many?,,3\n', encoding="utf-8")
    assert load_local_questions(str(path)) == [
        MultipleChoiceItem("qa.csv:2", "Pick", ("x", "y"), 1),
        OpenQuestion("qa.csv:3", "How many?", "3"),
    ]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"text": "t", "label": 1}, r"qa.jsonl:1: a text\+label row is a classification row, not a question"),
        ({"question": "q"}, r"qa.jsonl:1: missing field 'answer' \(fields: question\)"),
        ({"answer": "a"}, r"qa.jsonl:1: missing field 'question' \(fields: answer\)"),
        ({"question": "", "answer": "a"}, r"field 'question' must be a non-empty string \(got ''\)"),
        ({"question": "q", "answer": True}, r"field 'answer' must be a non-empty text or a number \(got True\)"),
        ({"question": "q", "answer": None}, r"field 'answer' must be a non-empty text or a number \(got None\)"),
        ({"question": "q", "answer": ["a", "b"]}, r"must be a non-empty text or a number \(got \['a', 'b'\]\)"),
        ({"question": "q", "answer": " "}, r"must be a non-empty text or a number \(got ' '\)"),
        ({"question": "q", "choices": "x", "answer": 0}, r"field 'choices' must be a list of at least 2 answers"),
        ({"question": "q", "choices": ["x"], "answer": 0}, r"field 'choices' must be a list of at least 2"),
        ({"question": "q", "choices": ["x", None], "answer": 0}, r"field 'choices' item 1 must be a non-empty"),
        (
            {"question": "q", "choices": ["x", "y"], "answer": "C"},
            r"qa.jsonl:1: field 'answer' must be one of the choices, a letter A..B or an index 0..1 \(got 'C'\)",
        ),
        ({"question": "q", "choices": ["x", "y"], "answer": 2}, r"a letter A..B or an index 0..1 \(got 2\)"),
        ({"question": "q", "choices": ["x", "y"], "answer": -1}, r"\(got -1\)"),
        ({"question": "q", "choices": ["x", "y"], "answer": True}, r"\(got True\)"),
        ({"question": "q", "choices": ["x", "y"], "answer": "w"}, r"\(got 'w'\)"),
        ({"question": "q", "answer": "a", "difficulty": "hard"}, r"field 'difficulty' must be a finite number"),
    ],
)
def test_bad_local_rows_are_rejected(tmp_path, row, message):
    with pytest.raises(DatasetError, match=message):
        load_local_questions(_jsonl(tmp_path, row))


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ('{"question": "q", "answer": "a", "id": "d"}\n' * 2, "qa.jsonl", r"qa.jsonl:2: duplicate id 'd'"),
        ("\n\n", "qa.jsonl", r"holds no rows; each row needs question\+answer"),
        ("[1, 2]\n", "qa.jsonl", r"qa.jsonl:1: expected a JSON object"),
        ("{}", "qa.txt", r"unsupported file type"),
    ],
)
def test_bad_local_files_are_rejected(tmp_path, content, name, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError, match=message):
        load_local_questions(str(path))


# Loading


def test_load_local_file_is_shuffled_capped_and_formatted(tmp_path):
    source = _jsonl(tmp_path, *({"question": f"q{i}", "answer": f"a{i}"} for i in range(20)))
    items = load_qa_items("local", source, max_items=8, seed=0)
    assert len(items) == 8 and items == load_qa_items("local", f"file://{source}", max_items=8, seed=0)
    for item in items:
        index = int(item.id.split(":")[1]) - 1
        assert (item.prompt, item.answer) == (f"Q: q{index}\nA:", f" a{index}")
    assert [i.id for i in items] != [f"qa.jsonl:{i}" for i in range(1, 9)]


def test_local_rows_are_selected_as_classification_selects_them(tmp_path):
    rows = [{"question": f"q{i}", "choices": ["x", "y"], "answer": i % 2} for i in range(15)]
    source = _jsonl(tmp_path, *rows)
    qa_ids = [i.id for i in load_qa_items("local", source, max_items=6, seed=4)]
    assert qa_ids == [i.id for i in load_dataset_items("local", source, max_items=6, seed=4)]


def test_load_synthetic_task_by_name():
    assert load_qa_items("synthetic-word-ops", None, max_items=30, seed=2) == generate_word_ops(30, seed=2)


@pytest.mark.parametrize(
    ("name", "source", "max_items", "message"),
    [
        ("amazon_polarity", None, None, r"'amazon_polarity' has no questions and answers for task generation"),
        ("synthetic-sentiment", None, None, r"'synthetic-sentiment' has no questions and answers"),
        ("sciqq", None, None, r"'sciqq' has no questions and answers"),
        ("local", None, None, r"spec.dataset.source: required when spec.dataset.name is 'local'"),
        ("local", "qa.jsonl", 0, r"spec.dataset.maxItems: must be >= 1 \(got 0\)"),
    ],
)
def test_loading_errors(name, source, max_items, message):
    with pytest.raises(DatasetError, match=message):
        load_qa_items(name, source, max_items, seed=0)


def test_hub_dataset_loads_through_the_registry_loader(monkeypatch):
    """A fake ``datasets`` serves BoolQ rows; the hub loader assigns ids, the QA formatter answers yes/no."""
    rows = {
        "train": [{**BOOLQ_ROW, "question": f"is {i} even", "answer": i % 2 == 0} for i in range(6)],
        "validation": [{**BOOLQ_ROW, "answer": False}],
    }

    class Split(list):
        def select(self, indices):
            return Split(self[i] for i in indices)

    module = types.ModuleType("datasets")
    module.load_dataset = lambda path, name=None, *, split: Split(rows[split])  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", module)
    items = load_qa_items("boolq", None, max_items=None, seed=1)
    assert get_dataset("boolq").hf_splits == ("train", "validation") and len(items) == 7
    for item in items:
        _, split, index = item.id.split("/")
        assert item.answer == (" no" if split == "validation" or int(index) % 2 else " yes")
