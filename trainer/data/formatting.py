"""Items -> examples: the binary formatting of the original weak-to-strong code."""

from __future__ import annotations

import random
from collections.abc import Sequence

from .records import BinaryItem, Example, Item, MultipleChoiceItem


def multiple_choice_text(question: str, candidate: str) -> str:
    """The text a model sees for one (question, candidate answer) pair."""
    return f"Q: {question} A: {candidate}"


def to_binary_examples(items: Sequence[Item], seed: int) -> list[Example]:
    """Format items as binary examples, deterministically given ``seed``.

    A multiple-choice item shows its correct answer with probability 1/2 (label 1), otherwise a
    uniformly drawn distractor (label 0). A binary item passes through. Difficulty is kept.
    """
    rng = random.Random(seed)
    examples: list[Example] = []
    for item in items:
        if isinstance(item, BinaryItem):
            examples.append(Example(item.id, item.text, item.label, item.difficulty))
            continue
        examples.append(_binary_example(item, rng))
    return examples


def _binary_example(item: MultipleChoiceItem, rng: random.Random) -> Example:
    shows_correct = rng.random() < 0.5
    candidate = item.correct_answer if shows_correct else rng.choice(item.distractors)
    return Example(
        id=item.id,
        text=multiple_choice_text(item.question, candidate),
        label=int(shows_correct),
        difficulty=item.difficulty,
    )
