"""Question answering for ``task: generation``: raw items -> (prompt, gold answer) records.

A causal LM sees the prompt and is trained to continue it with the gold answer, then a newline:

    multiple choice   "Q: {question}\\nChoices: A) {first} B) {second} ...\\nA:"
    otherwise         "Q: {question}\\nA:"

The gold answer text begins with a space (``" Paris"``): it continues ``"A:"`` the way a
tokenizer splits ``"A: Paris"``, so the answer's tokens are the ones the model would generate.
It holds no newline: :data:`ANSWER_END` ends it when a model is trained (:attr:`QAItem.target`),
and decoding stops there. Whitespace inside questions, choices and answers is collapsed to
single spaces, so no newline in the data can end an answer early or break the prompt's lines.

Multiple-choice answers are the correct option's text by default (``" Paris"``), or its letter
(``" B"``) with :attr:`ChoiceAnswer.LETTER`; either way the options are shown in a seeded order
(SciQ always lists the answer first). Yes/no items (BoolQ) answer ``" yes"`` or ``" no"``.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from ensemw2s.spec import ChoiceAnswer as ChoiceAnswer  # the formatters' style; a spec setting
from ensemw2s.spec import SplitSizes
from ensemw2s.spec.catalog import GENERATION_DATASETS, SYNTHETIC_WORD_OPS

from .errors import DatasetError
from .formatting import choice_letter
from .records import BinaryItem, Item, LabelledItem, MultipleChoiceItem
from .registry import get_dataset
from .splits import SPLIT_NAMES

ANSWER_END = "\n"
"""What ends every answer: models are trained to write it, decoding stops at it."""
MAX_CHOICES = 26  # one letter per option, A..Z
YES_NO: tuple[str, str] = ("no", "yes")  # a binary item's answer, by its label
QA_DATASETS: tuple[str, ...] = tuple(name for name in GENERATION_DATASETS if name != SYNTHETIC_WORD_OPS)
"""The registry's Hugging Face datasets that have questions and answers (amazon_polarity has not)."""


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) made one space, ends stripped."""
    return " ".join(text.split())


@dataclass(frozen=True)
class OpenQuestion:
    """A question with a free-form answer text (no options), e.g. a local ``{question, answer}`` row."""

    id: str
    question: str
    answer: str
    difficulty: float | None = None

    def __post_init__(self) -> None:
        for name in ("question", "answer"):
            if not one_line(getattr(self, name)):
                raise DatasetError(
                    f"open question '{self.id}': {name} must be a non-empty text (got {getattr(self, name)!r}); "
                    "fill it in or drop the item"
                )
        _check_difficulty("open question", self.id, self.difficulty)


RawQuestion: TypeAlias = MultipleChoiceItem | OpenQuestion | BinaryItem
"""What a QA formatter accepts: a multiple-choice item, an open question, or a yes/no item."""


@dataclass(frozen=True)
class QAItem:
    """One generation example: the prompt, the gold answer text, and the options when there are any.

    ``answer`` begins with one space and has no newline (see the module docstring). ``choices`` is
    empty for an open question; with choices, ``answer_letter`` names the correct one.
    """

    id: str
    prompt: str
    answer: str
    choices: tuple[str, ...] = ()
    answer_letter: str | None = None
    difficulty: float | None = None

    def __post_init__(self) -> None:
        where = f"QA item '{self.id}'"
        if not self.prompt.strip():
            raise DatasetError(f"{where}: prompt must be a non-empty text (got {self.prompt!r}); format a question")
        if not self.answer.startswith(" ") or not self.answer.strip() or ANSWER_END in self.answer:
            raise DatasetError(
                f"{where}: answer must be a non-empty text after one leading space, without a newline "
                f"(got {self.answer!r}); build it with answer_text()"
            )
        if self.choices:
            letters = tuple(choice_letter(i) for i in range(len(self.choices)))
            if len(self.choices) < 2 or len(self.choices) > MAX_CHOICES or self.answer_letter not in letters:
                raise DatasetError(
                    f"{where}: answer_letter must name one of 2..{MAX_CHOICES} choices "
                    f"(got {self.answer_letter!r} with {len(self.choices)} choices); point it at the correct choice"
                )
        elif self.answer_letter is not None:
            raise DatasetError(
                f"{where}: answer_letter is set without choices (got {self.answer_letter!r}); "
                "leave it unset for an open question"
            )
        _check_difficulty("QA item", self.id, self.difficulty)

    @property
    def target(self) -> str:
        """What a causal LM is trained to write after the prompt: the answer, then :data:`ANSWER_END`."""
        return self.answer + ANSWER_END

    @property
    def answer_index(self) -> int | None:
        """The correct choice's position, or None for an open question."""
        return None if self.answer_letter is None else ord(self.answer_letter) - ord("A")


@dataclass(frozen=True)
class QASplits:
    """The four splits of a generation experiment (names as classification's :data:`.splits.SPLIT_NAMES`).

    Defined beside :class:`QAItem` so that the synthetic task (which generates its splits to size)
    and :mod:`.qa_splits` (which splits a loaded pool) return one type.
    """

    easy: tuple[QAItem, ...]
    val: tuple[QAItem, ...]
    hard_train: tuple[QAItem, ...]
    hard_test: tuple[QAItem, ...]

    def by_name(self, name: str) -> tuple[QAItem, ...]:
        """One split by its name: easy, val, hard_train or hard_test."""
        if name not in SPLIT_NAMES:
            raise DatasetError(
                f"split name: unknown split {name!r} (known: {', '.join(SPLIT_NAMES)}); use one of these"
            )
        split: tuple[QAItem, ...] = getattr(self, name)
        return split

    def sizes(self) -> SplitSizes:
        return SplitSizes(
            easy=len(self.easy), val=len(self.val), hard_train=len(self.hard_train), hard_test=len(self.hard_test)
        )


def _check_difficulty(owner: str, item_id: str, difficulty: float | None) -> None:
    if difficulty is not None and not math.isfinite(difficulty):
        raise DatasetError(
            f"{owner} '{item_id}': difficulty must be a finite number (got {difficulty!r}); "
            "fix the difficulty value or leave it empty"
        )


def answer_text(text: str) -> str:
    """A gold answer as causal-LM answers are written: one leading space, whitespace collapsed."""
    return " " + one_line(text)


def open_prompt(question: str) -> str:
    """The prompt of a question without options."""
    return f"Q: {one_line(question)}\nA:"


def choices_prompt(question: str, choices: Sequence[str]) -> str:
    """The prompt of a multiple-choice question: the options on one line, lettered A), B), ..."""
    listed = " ".join(f"{choice_letter(i)}) {one_line(choice)}" for i, choice in enumerate(choices))
    return f"Q: {one_line(question)}\nChoices: {listed}\nA:"


def to_qa_item(item: RawQuestion | Item, seed: int, style: ChoiceAnswer = ChoiceAnswer.TEXT) -> QAItem:
    """The QA record of one raw item, deterministic given ``seed`` and the item's id.

    Options are shuffled with a generator seeded by ``(seed, id)``, so an item reads the same
    whatever else is formatted with it. A labelled text that is not yes/no has no answer text: error.
    """
    if isinstance(item, OpenQuestion):
        return QAItem(item.id, open_prompt(item.question), answer_text(item.answer), difficulty=item.difficulty)
    if isinstance(item, BinaryItem):
        return QAItem(item.id, open_prompt(item.text), answer_text(YES_NO[item.label]), difficulty=item.difficulty)
    if isinstance(item, LabelledItem):
        raise DatasetError(
            f"labelled item '{item.id}': a class label is not an answer text (got label {item.label}); "
            "generation needs {question, answer} or {question, choices, answer} rows"
        )
    if len(item.choices) > MAX_CHOICES:
        raise DatasetError(
            f"multiple-choice item '{item.id}': at most {MAX_CHOICES} choices can be lettered "
            f"(got {len(item.choices)}); drop choices or the item"
        )
    order = list(range(len(item.choices)))
    random.Random(f"{seed}/{item.id}").shuffle(order)  # str seeds hash with SHA-512: stable across processes
    choices = tuple(one_line(item.choices[i]) for i in order)
    letter = choice_letter(order.index(item.answer_index))
    answer = answer_text(item.correct_answer if style is ChoiceAnswer.TEXT else letter)
    return QAItem(item.id, choices_prompt(item.question, choices), answer, choices, letter, item.difficulty)


def to_qa_items(
    items: Sequence[RawQuestion | Item], seed: int, style: ChoiceAnswer = ChoiceAnswer.TEXT
) -> list[QAItem]:
    """:func:`to_qa_item` over ``items``, in order."""
    return [to_qa_item(item, seed, style) for item in items]


def qa_row(
    dataset: str, row: Mapping[str, Any], seed: int, style: ChoiceAnswer = ChoiceAnswer.TEXT, row_id: str = ""
) -> QAItem:
    """One raw Hugging Face row of a :data:`QA_DATASETS` dataset as a QA record.

    The row goes through the registry's own row reader (the fields classification reads), so both
    tasks see the same question, options and answer. ``row_id`` replaces a missing ``id``.
    """
    check_qa_dataset(dataset)
    item = get_dataset(dataset).row_to_item(row)
    if not item.id and row_id:
        item = dataclasses.replace(item, id=row_id)
    return to_qa_item(item, seed, style)


def check_qa_dataset(dataset: str, field_path: str = "spec.dataset.name") -> None:
    """A DatasetError unless ``dataset`` is a registry dataset with questions and answers."""
    if dataset not in QA_DATASETS:
        raise DatasetError(
            f"{field_path}: {dataset!r} has no questions and answers for task generation "
            f"(question-answering datasets: {', '.join(QA_DATASETS)}); use one of these, "
            "the synthetic generation task, or source: file://path.jsonl"
        )
