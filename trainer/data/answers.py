"""Scoring generated answers: SQuAD-style exact match, and option matching for multiple choice.

Normalisation (:func:`normalise_answer`), applied to the prediction and the gold answer alike:
lowercase; every punctuation character (ASCII and Unicode) becomes a space; the articles
"a", "an" and "the" are dropped as words; whitespace is collapsed. SQuAD deletes punctuation
instead; we replace it with a space because word-level tokenizers decode ``don't`` as
``don ' t`` and ``B)`` as ``b )``: with a space both sides normalise to the same words.

A prediction is cut at its first newline (:data:`ANSWER_END`, where decoding stops) before it
is scored, so a generator that runs on past the answer is scored on the answer alone.

Multiple choice (:func:`option_matches`): a prediction names option X when

- its normalised text equals option X's normalised text, when that is not empty
  (``"Paris"`` for ``B) Paris``), or
- it is X's letter alone, in either case, optionally in parentheses or followed by ``)``, ``.``
  or ``:`` (``"B"``, ``"b"``, ``"B)"``, ``"(b)"``, ``"( b )"``, ``"B."``), or
- it is X's letter with such a delimiter followed by X's text (``"B) Paris"``, ``"(b) paris"``).

A letter followed by another option's text (``"B) Rome"``) names no option; ``"Because"`` is
not a letter. A prediction matches the gold answer when it names the correct option.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import DatasetError
from .formatting import choice_letter
from .qa import ANSWER_END, QAItem

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_OPTION_LABEL = re.compile(r"^\(?\s*([a-z])\s*(?:[).:]\s*(.*))?$")  # on lowercased, stripped text


def _is_punctuation(char: str) -> bool:
    return char in string.punctuation or unicodedata.category(char).startswith("P")


def normalise_answer(text: str) -> str:
    """Lowercase, punctuation to spaces, articles dropped, whitespace collapsed (see the module docstring)."""
    lowered = "".join(" " if _is_punctuation(char) else char for char in text.lower())
    return " ".join(_ARTICLES.sub(" ", lowered).split())


def answer_part(prediction: str) -> str:
    """The generated text up to its first :data:`ANSWER_END` (what decoding would have kept)."""
    return prediction.split(ANSWER_END, 1)[0]


def exact_match(prediction: str, gold: str) -> bool:
    """The prediction's answer part and the gold answer are equal after normalisation."""
    return normalise_answer(answer_part(prediction)) == normalise_answer(gold)


def option_matches(prediction: str, choices: Sequence[str], index: int) -> bool:
    """The prediction names option ``index`` of ``choices``, by its text or its letter (module docstring)."""
    if not 0 <= index < len(choices):
        raise DatasetError(
            f"option matching: option index {index} is out of range (allowed 0..{len(choices) - 1}); "
            "pass the index of one of the choices"
        )
    answer = answer_part(prediction)
    option_text = normalise_answer(choices[index])
    if option_text and normalise_answer(answer) == option_text:  # an empty text names no option
        return True
    label = _OPTION_LABEL.match(answer.strip().lower())
    if label is None or label.group(1) != choice_letter(index).lower():
        return False
    rest = label.group(2)
    return not rest or normalise_answer(rest) == option_text


def answer_matches(item: QAItem, prediction: str) -> bool:
    """Option matching for a multiple-choice item, exact match against the gold answer otherwise."""
    if item.answer_index is None:
        return exact_match(prediction, item.answer)
    return option_matches(prediction, item.choices, item.answer_index)


@dataclass(frozen=True)
class AnswerScores:
    """One match per example, in the order given, and their accuracy."""

    matches: tuple[bool, ...]

    @property
    def accuracy(self) -> float:
        return sum(self.matches) / len(self.matches)


def score_answers(items: Sequence[QAItem], predictions: Sequence[str]) -> AnswerScores:
    """Whether each prediction matches its item's gold answer (:func:`answer_matches`), and the accuracy."""
    if len(items) != len(predictions):
        raise DatasetError(
            f"answer scoring: got {len(predictions)} predictions for {len(items)} items; "
            "generate exactly one answer per item"
        )
    if not items:
        raise DatasetError("answer scoring: no items to score (got 0); score a non-empty split")
    return AnswerScores(tuple(answer_matches(item, p) for item, p in zip(items, predictions, strict=True)))
