"""Every registry entry formats a realistic row; hub loading works against a fake `datasets`."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from ensemw2s.spec.catalog import DATASETS
from ensemw2s.trainer.data import (
    BinaryItem,
    DatasetError,
    MultipleChoiceItem,
    dataset_names,
    get_dataset,
    hub_dataset_names,
    load_hub_items,
)

ARC_ROW = {
    "id": "Mercury_7175875",
    "question": "An astronomer observes that a planet rotates faster after a meteorite impact. Why?",
    "choices": {
        "text": ["Planetary density will decrease.", "Planetary years will become longer."],
        "label": ["A", "B"],
    },
    "answerKey": "B",
}
ARC_DIGIT_ROW = {
    "id": "NYSEDREGENTS_2015_4_8",
    "question": "Which tool is used to measure mass?",
    "choices": {"text": ["ruler", "balance", "thermometer", "clock"], "label": ["1", "2", "3", "4"]},
    "answerKey": "2",
}


@pytest.mark.parametrize(
    ("name", "row", "expected"),
    [
        (
            "sciq",
            {
                "question": "What type of organism is commonly used in preparation of foods such as cheese?",
                "distractor3": "viruses",
                "distractor1": "protozoa",
                "distractor2": "gymnosperms",
                "correct_answer": "mesophilic organisms",
                "support": "Mesophiles grow best in moderate temperature...",
            },
            MultipleChoiceItem(
                "",
                "What type of organism is commonly used in preparation of foods such as cheese?",
                ("mesophilic organisms", "protozoa", "gymnosperms", "viruses"),
                0,
            ),
        ),
        (
            "arc-easy",
            ARC_DIGIT_ROW,
            MultipleChoiceItem(
                "NYSEDREGENTS_2015_4_8",
                "Which tool is used to measure mass?",
                ("ruler", "balance", "thermometer", "clock"),
                1,
            ),
        ),
        (
            "arc-challenge",
            ARC_ROW,
            MultipleChoiceItem(
                "Mercury_7175875",
                ARC_ROW["question"],
                ("Planetary density will decrease.", "Planetary years will become longer."),
                1,
            ),
        ),
        (
            "quartz",
            {
                "id": "QRQA-10116-3",
                "question": "As the temperature rises, ice will melt (A) faster (B) slower",
                "choices": {"text": ["faster", "slower"], "label": ["A", "B"]},
                "answerKey": "A",
                "para": "Ice melts faster when it is warmer.",
            },
            MultipleChoiceItem(
                "QRQA-10116-3",
                "As the temperature rises, ice will melt (A) faster (B) slower",
                ("faster", "slower"),
                0,
            ),
        ),
        (
            "boolq",
            {"question": "is the sky blue", "answer": True, "passage": "The sky appears blue."},
            BinaryItem("", "Passage: The sky appears blue. Question: is the sky blue?", 1),
        ),
        (
            "cosmos_qa",
            {
                "id": "3Q9SPIIRWJKVQ8244310E8TUS6YWAP##34V1S5K3GTZMDUBNBIGY93FLDN690J##A1S1K7134S2VUC##Blog_1024745##q1_a1##3XWUWJ18TN7X7ZOQ9P6V4QFSNQAUU8",
                "context": "Good Old War and person L : I saw both of these bands Wednesday night.",
                "question": "In the future , will this person go to see other bands play ?",
                "answer0": "None of the above choices .",
                "answer1": "This person likes music and likes to see the show .",
                "answer2": "This person only likes Good Old War and Person L .",
                "answer3": "Other Bands is not on tour .",
                "label": 1,
            },
            MultipleChoiceItem(
                "3Q9SPIIRWJKVQ8244310E8TUS6YWAP##34V1S5K3GTZMDUBNBIGY93FLDN690J##A1S1K7134S2VUC##Blog_1024745##q1_a1##3XWUWJ18TN7X7ZOQ9P6V4QFSNQAUU8",
                "Good Old War and person L : I saw both of these bands Wednesday night. "
                "In the future , will this person go to see other bands play ?",
                (
                    "None of the above choices .",
                    "This person likes music and likes to see the show .",
                    "This person only likes Good Old War and Person L .",
                    "Other Bands is not on tour .",
                ),
                1,
            ),
        ),
        (
            "amazon_polarity",
            {"label": 0, "title": "Broke fast", "content": "It stopped working after a week."},
            BinaryItem("", "Broke fast It stopped working after a week.", 0),
        ),
    ],
)
def test_every_entry_formats_a_fixture_row(name, row, expected):
    assert get_dataset(name).row_to_item(row) == expected


def test_fixtures_cover_every_entry():
    covered = {"sciq", "arc-easy", "arc-challenge", "quartz", "boolq", "cosmos_qa", "amazon_polarity"}
    assert set(hub_dataset_names()) == covered


def test_dataset_names_match_the_spec_catalog():
    assert set(dataset_names()) == set(DATASETS)


def test_entries_carry_their_facts():
    for name in hub_dataset_names():
        entry = get_dataset(name)
        assert entry.name == name and entry.hf_path and entry.hf_splits and entry.license
    assert "test" not in get_dataset("cosmos_qa").hf_splits  # hidden labels


def test_unknown_dataset_error_lists_known_names():
    with pytest.raises(DatasetError) as caught:
        get_dataset("sciqq")
    assert str(caught.value) == (
        "spec.dataset.name: unknown dataset 'sciqq' (known: amazon_polarity, arc-challenge, arc-easy, "
        "boolq, cosmos_qa, local, quartz, sciq, synthetic-sentiment, synthetic-topics); "
        "use one of these or source: file://path.jsonl"
    )


@pytest.mark.parametrize("name", ["synthetic-sentiment", "synthetic-topics", "local"])
def test_non_hub_names_are_not_hub_entries(name):
    with pytest.raises(DatasetError, match="is not a Hugging Face dataset"):
        get_dataset(name)


def test_missing_field_names_the_field_and_the_fields_present():
    with pytest.raises(DatasetError, match=r"sciq row: missing field 'correct_answer' \(fields: question\)"):
        get_dataset("sciq").row_to_item({"question": "q"})


def test_answer_key_outside_labels_is_an_error():
    row = {**ARC_ROW, "answerKey": "E"}
    with pytest.raises(DatasetError, match=r"answerKey 'E' is not a choice label \(labels: A, B\)"):
        get_dataset("arc-easy").row_to_item(row)


class FakeSplit:
    """The slice of `datasets.Dataset` the loader uses: len, select, iteration."""

    def __init__(self, rows: list[Mapping[str, Any]]) -> None:
        self.rows = rows
        self.selected: list[int] = []

    def __len__(self) -> int:
        return len(self.rows)

    def select(self, indices: list[int]) -> FakeSplit:
        self.selected.extend(indices)
        return FakeSplit([self.rows[i] for i in indices])

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        return iter(self.rows)


@pytest.fixture
def fake_hub(monkeypatch):
    splits = {
        "train": FakeSplit([{"title": f"t{i}", "content": "c", "label": i % 2} for i in range(30)]),
        "test": FakeSplit([{"title": f"x{i}", "content": "c", "label": 1} for i in range(10)]),
    }
    calls: list[tuple[str, str | None, str]] = []

    def load_dataset(path: str, name: str | None = None, *, split: str) -> FakeSplit:
        calls.append((path, name, split))
        return splits[split]

    module = types.ModuleType("datasets")
    module.load_dataset = load_dataset  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", module)
    return splits, calls


def test_hub_loading_concatenates_shuffles_and_truncates(fake_hub):
    splits, calls = fake_hub
    entry = get_dataset("amazon_polarity")
    items = load_hub_items(entry, max_items=12, seed=1)
    assert calls == [
        ("fancyzhx/amazon_polarity", "amazon_polarity", "train"),
        ("fancyzhx/amazon_polarity", "amazon_polarity", "test"),
    ]
    assert len(items) == 12 and len({i.id for i in items}) == 12
    assert all(i.id.startswith(("amazon_polarity/train/", "amazon_polarity/test/")) for i in items)
    assert len(splits["train"].selected) + len(splits["test"].selected) == 12  # only selected rows converted
    for item in items:
        _, split, index = item.id.split("/")
        prefix = "t" if split == "train" else "x"
        assert isinstance(item, BinaryItem) and item.text == f"{prefix}{index} c"


def test_hub_loading_is_deterministic_and_seed_dependent(fake_hub):
    entry = get_dataset("amazon_polarity")
    first = load_hub_items(entry, max_items=None, seed=5)
    assert len(first) == 40
    assert first == load_hub_items(entry, max_items=None, seed=5)
    assert first != load_hub_items(entry, max_items=None, seed=6)


def test_hub_loading_rejects_a_nonpositive_cap(fake_hub):
    with pytest.raises(DatasetError, match=r"spec.dataset.maxItems: must be >= 1 \(got 0\)"):
        load_hub_items(get_dataset("amazon_polarity"), max_items=0, seed=0)


def test_hub_loading_rejects_an_empty_dataset(monkeypatch):
    module = types.ModuleType("datasets")
    module.load_dataset = lambda path, name=None, *, split: FakeSplit([])  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", module)
    with pytest.raises(DatasetError, match="has no rows in splits train, validation"):
        load_hub_items(get_dataset("boolq"), max_items=None, seed=0)


def test_missing_datasets_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` raise ImportError
    with pytest.raises(DatasetError, match=r"install the 'datasets' package \(pip install 'ensemw2s\[hub\]'\)"):
        load_hub_items(get_dataset("sciq"), max_items=10, seed=0)
