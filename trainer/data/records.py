"""The records the data layer produces: raw items from a source, and the examples models see."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeAlias

from .errors import DatasetError


def _check_difficulty(owner: str, item_id: str, difficulty: float | None) -> None:
    if difficulty is not None and not math.isfinite(difficulty):
        raise DatasetError(
            f"{owner} '{item_id}': difficulty must be a finite number (got {difficulty!r}); "
            "fix the difficulty value or leave it empty"
        )


@dataclass(frozen=True)
class MultipleChoiceItem:
    """A question with two or more answer choices, one of them correct."""

    id: str
    question: str
    choices: tuple[str, ...]
    answer_index: int
    difficulty: float | None = None

    def __post_init__(self) -> None:
        if len(self.choices) < 2:
            raise DatasetError(
                f"multiple-choice item '{self.id}': needs at least 2 choices (got {len(self.choices)}); "
                "add distractors or drop the item"
            )
        if not 0 <= self.answer_index < len(self.choices):
            raise DatasetError(
                f"multiple-choice item '{self.id}': answer_index {self.answer_index} is out of range "
                f"(allowed 0..{len(self.choices) - 1}); point it at one of the choices"
            )
        _check_difficulty("multiple-choice item", self.id, self.difficulty)

    @property
    def correct_answer(self) -> str:
        return self.choices[self.answer_index]

    @property
    def distractors(self) -> tuple[str, ...]:
        return tuple(c for i, c in enumerate(self.choices) if i != self.answer_index)


@dataclass(frozen=True)
class LabelledItem:
    """A text with a class label in 0..K-1 (K from the data or ``spec.dataset.numClasses``)."""

    id: str
    text: str
    label: int
    difficulty: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.label, bool) or not isinstance(self.label, int) or self.label < 0:
            raise DatasetError(
                f"labelled item '{self.id}': label must be a class index >= 0 (got {self.label!r}); "
                "map the labels to 0..K-1"
            )
        _check_difficulty("labelled item", self.id, self.difficulty)


@dataclass(frozen=True)
class BinaryItem(LabelledItem):
    """A text with a binary label (1 = true / positive, 0 = false / negative)."""

    def __post_init__(self) -> None:
        if self.label not in (0, 1):
            raise DatasetError(
                f"binary item '{self.id}': label must be 0 or 1 (got {self.label!r}); "
                "map the label to 0 (false/negative) or 1 (true/positive)"
            )
        _check_difficulty("binary item", self.id, self.difficulty)


Item: TypeAlias = MultipleChoiceItem | LabelledItem
"""A raw item; a :class:`BinaryItem` is a :class:`LabelledItem` with K = 2."""


@dataclass(frozen=True)
class Example:
    """What models see: a text and a class label in 0..K-1 (K = 2 for binary formatting)."""

    id: str
    text: str
    label: int
    difficulty: float | None = None

    def __post_init__(self) -> None:
        if self.label < 0:
            raise DatasetError(
                f"example '{self.id}': label must be a class index >= 0 (got {self.label}); labels are 0..K-1"
            )
        _check_difficulty("example", self.id, self.difficulty)
