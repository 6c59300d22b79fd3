"""Local question-answering files for ``task: generation`` (JSONL or CSV, read as :mod:`.local` reads them).

Each row is one of:

- ``{question, answer}``: an open question; ``answer`` is the gold answer text (a number is
  written as text: ``4`` reads ``"4"``).
- ``{question, choices, answer}``: multiple choice; ``answer`` names the correct choice, tried in
  this order: one of the choices' texts, exactly; a letter ``A``.. (either case) for the choice
  at that position; its 0-based index (an integer, or digits in a CSV cell). The text comes
  first, so with choices ``["B", "A"]`` the answer ``"A"`` is the second choice.

Optional columns, as in classification files: ``id`` (default ``<file name>:<line>``, unique) and
``difficulty``. A classification row (``text``/``label``) is an error here: it has no answer text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import DatasetError
from .formatting import choice_letter
from .local import choice_text, read_local_rows, row_difficulty, row_text
from .qa import OpenQuestion
from .records import MultipleChoiceItem

QuestionRow = MultipleChoiceItem | OpenQuestion
_ROW_HELP = "each row needs question+answer, or question+choices+answer for multiple choice"


def load_local_questions(source: str, field_path: str = "spec.dataset.source") -> list[QuestionRow]:
    """All rows of a JSONL or CSV question file, in file order, as open or multiple-choice questions."""
    return [question for _, question in load_local_question_rows(source, field_path)]


def load_local_question_rows(source: str, field_path: str = "spec.dataset.source") -> list[tuple[str, QuestionRow]]:
    """All rows of a question file as ``(file:line, question)``, in file order (what a message names)."""
    return read_local_rows(source, field_path, question_from_row, _ROW_HELP)


def question_from_row(row: Mapping[str, Any], where: str, default_id: str) -> QuestionRow:
    """One row as a question; ``where`` (``file:line``) opens every error message."""
    if "text" in row or "label" in row:
        raise DatasetError(
            f"{where}: a text+label row is a classification row, not a question (fields: {', '.join(sorted(row))}); "
            f"{_ROW_HELP}"
        )
    for name in ("question", "answer"):
        if name not in row:
            raise DatasetError(
                f"{where}: missing field '{name}' (fields: {', '.join(sorted(row)) or 'none'}); {_ROW_HELP}"
            )
    item_id = str(row.get("id", default_id))
    question = row_text(row, "question", where)
    difficulty = row_difficulty(row, where)
    if "choices" not in row:
        return OpenQuestion(item_id, question, _answer_text(row["answer"], where), difficulty)
    choices = row["choices"]
    if not isinstance(choices, list) or len(choices) < 2:
        raise DatasetError(
            f"{where}: field 'choices' must be a list of at least 2 answers (got {choices!r}); add the answer options"
        )
    texts = tuple(choice_text(choice, index, where) for index, choice in enumerate(choices))
    return MultipleChoiceItem(item_id, question, texts, choice_index(row["answer"], texts, where), difficulty)


def _answer_text(value: Any, where: str) -> str:
    """An open question's answer: a non-empty string, or a number written as text."""
    if isinstance(value, bool) or not isinstance(value, str | int | float) or not str(value).strip():
        raise DatasetError(
            f"{where}: field 'answer' must be a non-empty text or a number (got {value!r}); "
            "write the gold answer, or add choices for multiple choice"
        )
    return str(value)


def choice_index(answer: Any, choices: tuple[str, ...], where: str) -> int:
    """The correct choice named by ``answer``: a choice's text, then a letter, then a 0-based index."""
    if isinstance(answer, str):
        if answer in choices:
            return choices.index(answer)
        letters = [choice_letter(i) for i in range(len(choices))]
        if answer.strip().upper() in letters:
            return letters.index(answer.strip().upper())
        if answer.strip().isdecimal() and int(answer) < len(choices):
            return int(answer)
    elif isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < len(choices):
        return answer
    raise DatasetError(
        f"{where}: field 'answer' must be one of the choices, a letter A..{choice_letter(len(choices) - 1)} "
        f"or an index 0..{len(choices) - 1} (got {answer!r}); name the correct choice"
    )
