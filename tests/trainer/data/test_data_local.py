"""Local JSONL and CSV files: good rows in both formats, K-way labels, and a precise error for every bad case."""

from __future__ import annotations

import json
import uuid

import fsspec
import pytest
from ensemw2s.trainer.data import DatasetError, LabelledItem, MultipleChoiceItem, load_local_items


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _jsonl(tmp_path, *rows: object, name: str = "data.jsonl"):
    return _write(tmp_path, name, "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")


def test_jsonl_rows_become_items(tmp_path):
    path = _jsonl(
        tmp_path,
        {"question": "2+2?", "choices": ["3", "4"], "answer": 1, "difficulty": 0.2},
        {"question": "Capital of France?", "choices": ["Paris", "Rome", "Oslo"], "answer": "Paris", "id": "fr"},
        "",
        {"text": "great film", "label": 1},
        {"text": "bad film", "label": False},
    )
    items = load_local_items(str(path))
    assert items == [
        MultipleChoiceItem("data.jsonl:1", "2+2?", ("3", "4"), 1, 0.2),
        MultipleChoiceItem("fr", "Capital of France?", ("Paris", "Rome", "Oslo"), 0),
        LabelledItem("data.jsonl:4", "great film", 1),
        LabelledItem("data.jsonl:5", "bad film", 0),
    ]


def test_file_uri_prefix_is_accepted(tmp_path):
    path = _jsonl(tmp_path, {"text": "t", "label": 0})
    assert load_local_items(f"file://{path}") == [LabelledItem("data.jsonl:1", "t", 0)]


def test_csv_rows_become_items(tmp_path):
    path = _write(
        tmp_path,
        "data.csv",
        "id,question,choices,answer,text,label,difficulty\n"
        'm1,Pick one,"[""1"", ""2"", ""3""]",2,,,0.5\n'
        'm2,Pick text,"[""a"", ""b""]",b,,,\n'
        ",,,,nice one,1,\n",
    )
    assert load_local_items(str(path)) == [
        MultipleChoiceItem("m1", "Pick one", ("1", "2", "3"), 1, 0.5),  # "2" matches a choice text first
        MultipleChoiceItem("m2", "Pick text", ("a", "b"), 1),
        LabelledItem("data.csv:4", "nice one", 1),
    ]


def test_k_way_labels_are_read_from_jsonl_and_csv(tmp_path):
    jsonl = _jsonl(tmp_path, *({"text": f"t{label}", "label": label} for label in range(4)))
    csv = _write(tmp_path, "data.csv", "text,label\n" + "".join(f"t{label},{label}\n" for label in range(4)))
    assert [item.label for item in load_local_items(str(jsonl))] == [0, 1, 2, 3]
    assert load_local_items(str(csv)) == [
        LabelledItem(f"data.csv:{label + 2}", f"t{label}", label) for label in range(4)
    ]


def test_csv_answer_given_as_index(tmp_path):
    path = _write(tmp_path, "data.csv", 'question,choices,answer\nQ,"[""x"", ""y""]",1\n')
    assert load_local_items(str(path)) == [MultipleChoiceItem("data.csv:2", "Q", ("x", "y"), 1)]


def test_fsspec_urls_are_read(tmp_path):
    url = f"memory://ensemw2s-{uuid.uuid4().hex}/data.jsonl"
    with fsspec.open(url, "wt") as handle:
        handle.write(json.dumps({"text": "t", "label": 1}) + "\n")
    assert load_local_items(url) == [LabelledItem("data.jsonl:1", "t", 1)]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [{"text": "a", "label": 0}, {"text": "b", "label": 1}, {"text": "c"}],
            "data.jsonl:3: missing field 'label' (fields: text); each row needs text+label or question+choices+answer",
        ),
        (
            [{"question": "q", "choices": ["a", "b"]}],
            "data.jsonl:1: missing field 'answer' (fields: choices, question); "
            "each row needs text+label or question+choices+answer",
        ),
        ([{}], "data.jsonl:1: missing field 'question' (fields: none)"),
        (["{not json"], "data.jsonl:1: invalid JSON (Expecting property name enclosed in double quotes)"),
        (["[1, 2]"], "data.jsonl:1: expected a JSON object, got list"),
        ([{"text": "a", "label": -1}], "data.jsonl:1: field 'label' must be a class index 0..K-1 (got -1)"),
        ([{"text": "a", "label": 1.5}], "data.jsonl:1: field 'label' must be a class index 0..K-1 (got 1.5)"),
        ([{"text": "a", "label": "yes"}], "data.jsonl:1: field 'label' must be a class index 0..K-1 (got 'yes')"),
        (
            [{"question": "q", "choices": ["a"], "answer": 0}],
            "data.jsonl:1: field 'choices' must be a list of at least 2 answers (got ['a'])",
        ),
        (
            [{"question": "q", "choices": "a,b", "answer": 0}],
            "data.jsonl:1: field 'choices' must be a list of at least 2 answers (got 'a,b')",
        ),
        (
            [{"question": "q", "choices": ["a", "b"], "answer": 2}],
            "data.jsonl:1: field 'answer' is neither a choice index 0..1 nor one of the choices (got 2)",
        ),
        (
            [{"question": "q", "choices": ["a", "b"], "answer": "c"}],
            "data.jsonl:1: field 'answer' is neither a choice index 0..1 nor one of the choices (got 'c')",
        ),
        (
            [{"question": "q", "choices": ["a", "b"], "answer": True}],
            "field 'answer' is neither",
        ),
        ([{"text": "a", "label": 1, "difficulty": "hard"}], "data.jsonl:1: field 'difficulty' must be a finite number"),
        ([{"text": "a", "label": 1, "difficulty": True}], "field 'difficulty' must be a finite number"),
        (
            [{"id": "x", "text": "a", "label": 1}, {"id": "x", "text": "b", "label": 0}],
            "data.jsonl:2: duplicate id 'x' (first on line 1)",
        ),
        ([""], "holds no rows"),
    ],
)
def test_bad_jsonl_rows_name_file_and_line(tmp_path, rows, message):
    path = _jsonl(tmp_path, *rows)
    with pytest.raises(DatasetError) as caught:
        load_local_items(str(path))
    assert message in str(caught.value)
    assert str(caught.value).startswith((str(path), "spec.dataset.source"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('question,choices,answer\nQ,"a, b",0\n', "data.csv:2: field 'choices' must be a JSON array (got 'a, b')"),
        ('question,choices,answer\nQ,"{""a"": 1}",0\n', "data.csv:2: field 'choices' must be a JSON array"),
        ("text,label\nfine,1\nbad,1,extra\n", "data.csv:3: more cells than header columns (2)"),
        ("text,label\nfine,1\nmissing,\n", "data.csv:3: missing field 'label' (fields: text)"),
        ("text,label\nfine,1\nodd,-2\n", "data.csv:3: field 'label' must be a class index 0..K-1 (got '-2')"),
        ('question,choices,answer\nQ,"[""x"", ""y""]",5\n', "data.csv:2: field 'answer' is neither"),
        ("text,label\n", "holds no rows"),
    ],
)
def test_bad_csv_rows_name_file_and_line(tmp_path, text, message):
    path = _write(tmp_path, "data.csv", text)
    with pytest.raises(DatasetError) as caught:
        load_local_items(str(path))
    assert message in str(caught.value)


def test_missing_file_is_reported_with_the_field(tmp_path):
    with pytest.raises(DatasetError, match=r"spec.dataset.source: file not found '.*nope.jsonl'; check the path"):
        load_local_items(f"file://{tmp_path}/nope.jsonl")


def test_missing_fsspec_file_is_reported():
    with pytest.raises(DatasetError, match=r"spec.dataset.source: file not found 'memory://.*'; check the URL"):
        load_local_items(f"memory://ensemw2s-{uuid.uuid4().hex}/absent.jsonl")


def test_unsupported_suffix_lists_allowed_types(tmp_path):
    path = _write(tmp_path, "data.parquet", "")
    with pytest.raises(DatasetError, match=r"unsupported file type .* \(allowed: .jsonl, .csv\)"):
        load_local_items(str(path))


def test_missing_fsspec_package_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(DatasetError, match="needs the 'fsspec' package"):
        load_local_items("s3://bucket/data.jsonl")
