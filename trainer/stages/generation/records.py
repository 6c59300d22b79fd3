"""The records the generation stages hand on: prepared questions and generated answers.

Written with ``StageWorkspace.write_model`` and read back with ``StageOutput.read_model``, so a damaged
or hand-edited file fails naming the file and the field (as classification's ``records.py``).
"""

from __future__ import annotations

from typing import Self

from ensemw2s.spec.base import SpecModel
from pydantic import Field, model_validator

from ...data.qa import QAItem

SPLITS = ("easy", "val", "hard_train", "hard_test")


class QuestionRecord(SpecModel):
    """One prepared question: the prompt, the gold answer text and its options (multiple choice)."""

    id: str
    prompt: str
    answer: str
    choices: list[str] = Field(default_factory=list)
    answer_letter: str | None = None
    difficulty: float | None = None

    @classmethod
    def of(cls, item: QAItem) -> QuestionRecord:
        return cls(
            id=item.id,
            prompt=item.prompt,
            answer=item.answer,
            choices=list(item.choices),
            answer_letter=item.answer_letter,
            difficulty=item.difficulty,
        )

    def item(self) -> QAItem:
        return QAItem(self.id, self.prompt, self.answer, tuple(self.choices), self.answer_letter, self.difficulty)


class PreparedQuestions(SpecModel):
    """``questions.json``: every split's questions, written by ``prepare``."""

    easy: list[QuestionRecord] = Field(min_length=1)
    val: list[QuestionRecord] = Field(min_length=1)
    hard_train: list[QuestionRecord] = Field(min_length=1)
    hard_test: list[QuestionRecord] = Field(min_length=1)

    def split(self, name: str) -> list[QuestionRecord]:
        records: list[QuestionRecord] = getattr(self, name)
        return records


class GeneratedAnswers(SpecModel):
    """``answers.json``: the answer texts a model (or the ensemble) wrote, per split, in question order.

    A split the stage did not decode is absent. Texts are as decoded (leading space kept, stop string cut).
    """

    val: list[str] | None = None
    hard_train: list[str] | None = None
    hard_test: list[str] | None = None

    def texts(self, split: str, owner: str) -> list[str]:
        texts: list[str] | None = getattr(self, split)
        if texts is None:
            raise ValueError(f"{owner}: answers.json holds no {split} answers; redo that stage")
        return texts

    @model_validator(mode="after")
    def _some_split(self) -> Self:
        if self.val is None and self.hard_train is None and self.hard_test is None:
            raise ValueError("answers.json: holds no split (got none); redo the stage that wrote it")
        return self
