"""The registry of known datasets: each entry carries its facts (hub path, splits, row format)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import DatasetError
from .records import BinaryItem, Item, MultipleChoiceItem

SYNTHETIC_SENTIMENT = "synthetic-sentiment"
SYNTHETIC_TOPICS = "synthetic-topics"
GENERATED = (SYNTHETIC_SENTIMENT, SYNTHETIC_TOPICS)  # built in, seeded: no download
LOCAL = "local"  # spec.dataset.name when spec.dataset.source names a file

RowToItem = Callable[[Mapping[str, Any]], Item]


@dataclass(frozen=True)
class DatasetEntry:
    """One Hugging Face dataset and how to turn its rows into items."""

    name: str
    hf_path: str
    hf_config: str | None
    hf_splits: tuple[str, ...]  # the labelled splits, concatenated before shuffling
    row_to_item: RowToItem
    license: str
    has_difficulty_column: bool = False


def _field(row: Mapping[str, Any], name: str, dataset: str) -> Any:
    try:
        return row[name]
    except KeyError:
        fields = ", ".join(sorted(row)) or "none"
        raise DatasetError(
            f"{dataset} row: missing field '{name}' (fields: {fields}); "
            "the dataset's format may have changed: pin a revision or use a local file"
        ) from None


def _row_id(row: Mapping[str, Any]) -> str:
    return str(row.get("id") or "")  # empty: the loader assigns "<name>/<split>/<index>"


def _keyed_choice_item(row: Mapping[str, Any], dataset: str, question: str) -> MultipleChoiceItem:
    """Rows with ``choices: {text: [...], label: [...]}`` and an ``answerKey`` among the labels."""
    choices = _field(row, "choices", dataset)
    texts = [str(t) for t in _field(choices, "text", dataset)]
    keys = [str(k).strip() for k in _field(choices, "label", dataset)]
    answer_key = str(_field(row, "answerKey", dataset)).strip()
    if answer_key not in keys:
        raise DatasetError(
            f"{dataset} row '{_row_id(row)}': answerKey {answer_key!r} is not a choice label "
            f"(labels: {', '.join(keys)}); drop the row or fix its answerKey"
        )
    return MultipleChoiceItem(_row_id(row), question, tuple(texts), keys.index(answer_key))


def sciq_row(row: Mapping[str, Any]) -> Item:
    correct = str(_field(row, "correct_answer", "sciq"))
    distractors = [str(_field(row, f"distractor{i}", "sciq")) for i in (1, 2, 3)]
    return MultipleChoiceItem(_row_id(row), str(_field(row, "question", "sciq")), (correct, *distractors), 0)


def arc_row(row: Mapping[str, Any]) -> Item:
    return _keyed_choice_item(row, "ai2_arc", str(_field(row, "question", "ai2_arc")))


def quartz_row(row: Mapping[str, Any]) -> Item:
    return _keyed_choice_item(row, "quartz", str(_field(row, "question", "quartz")))


def boolq_row(row: Mapping[str, Any]) -> Item:
    question = str(_field(row, "question", "boolq")).strip().rstrip("?")
    passage = str(_field(row, "passage", "boolq"))
    label = int(bool(_field(row, "answer", "boolq")))
    return BinaryItem(_row_id(row), f"Passage: {passage} Question: {question}?", label)


def cosmos_qa_row(row: Mapping[str, Any]) -> Item:
    question = f"{_field(row, 'context', 'cosmos_qa')} {_field(row, 'question', 'cosmos_qa')}"
    answers = tuple(str(_field(row, f"answer{i}", "cosmos_qa")) for i in range(4))
    return MultipleChoiceItem(_row_id(row), question, answers, int(_field(row, "label", "cosmos_qa")))


def amazon_polarity_row(row: Mapping[str, Any]) -> Item:
    title = str(_field(row, "title", "amazon_polarity"))
    content = str(_field(row, "content", "amazon_polarity"))
    return BinaryItem(_row_id(row), f"{title} {content}".strip(), int(_field(row, "label", "amazon_polarity")))


_ENTRIES: dict[str, DatasetEntry] = {
    e.name: e
    for e in (
        DatasetEntry("sciq", "allenai/sciq", None, ("train", "validation", "test"), sciq_row, "CC-BY-NC-3.0"),
        DatasetEntry(
            "arc-easy", "allenai/ai2_arc", "ARC-Easy", ("train", "validation", "test"), arc_row, "CC-BY-SA-4.0"
        ),
        DatasetEntry(
            "arc-challenge",
            "allenai/ai2_arc",
            "ARC-Challenge",
            ("train", "validation", "test"),
            arc_row,
            "CC-BY-SA-4.0",
        ),
        DatasetEntry("quartz", "allenai/quartz", None, ("train", "validation", "test"), quartz_row, "CC-BY-4.0"),
        DatasetEntry("boolq", "google/boolq", None, ("train", "validation"), boolq_row, "CC-BY-SA-3.0"),
        # The test split's labels are hidden (-1): only the labelled splits are used.
        DatasetEntry("cosmos_qa", "allenai/cosmos_qa", None, ("train", "validation"), cosmos_qa_row, "CC-BY-4.0"),
        DatasetEntry(
            "amazon_polarity",
            "fancyzhx/amazon_polarity",
            "amazon_polarity",
            ("train", "test"),
            amazon_polarity_row,
            "Apache-2.0",
        ),
    )
}


def hub_dataset_names() -> tuple[str, ...]:
    """Names of the registry's Hugging Face datasets, sorted."""
    return tuple(sorted(_ENTRIES))


def dataset_names() -> tuple[str, ...]:
    """Every name ``spec.dataset.name`` accepts: the hub datasets, the generated ones and ``local``."""
    return tuple(sorted((*_ENTRIES, *GENERATED, LOCAL)))


def get_dataset(name: str, field_path: str = "spec.dataset.name") -> DatasetEntry:
    """The hub entry called ``name``, or a DatasetError saying what is known."""
    if name in _ENTRIES:
        return _ENTRIES[name]
    if name in (*GENERATED, LOCAL):
        raise DatasetError(
            f"{field_path}: '{name}' is not a Hugging Face dataset (hub datasets: "
            f"{', '.join(hub_dataset_names())}); load it with load_dataset_items"
        )
    raise DatasetError(
        f"{field_path}: unknown dataset {name!r} (known: {', '.join(dataset_names())}); "
        "use one of these or source: file://path.jsonl"
    )


def entries() -> Sequence[DatasetEntry]:
    """All hub entries, sorted by name."""
    return [_ENTRIES[n] for n in hub_dataset_names()]
