"""Items -> examples: the binary formatting of the original weak-to-strong code, or K-way choices.

``spec.dataset.format`` decides what a multiple-choice item becomes: ``binary`` shows one answer and
labels it true or false (K = 2); ``choices`` lists every choice and labels the answer's index
(K = the number of choices). Labelled texts pass through either way.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from ensemw2s.spec import ExampleFormat

from .classes import count_classes
from .errors import DatasetError
from .records import Example, Item, LabelledItem, MultipleChoiceItem


def multiple_choice_text(question: str, candidate: str) -> str:
    """The text a model sees for one (question, candidate answer) pair."""
    return f"Q: {question} A: {candidate}"


def to_binary_examples(items: Sequence[Item], seed: int) -> list[Example]:
    """Format items as binary examples, deterministically given ``seed``.

    A multiple-choice item shows its correct answer with probability 1/2 (label 1), otherwise a
    uniformly drawn distractor (label 0). A labelled text passes through. Difficulty is kept.
    """
    return _format_items(items, seed, _binary_example)


def _format_items(
    items: Sequence[Item], seed: int, format_choice: Callable[[MultipleChoiceItem, random.Random], Example]
) -> list[Example]:
    """Labelled texts pass through; multiple-choice items go, in order, through ``format_choice``
    with one ``random.Random(seed)``."""
    rng = random.Random(seed)
    return [
        Example(item.id, item.text, item.label, item.difficulty)
        if isinstance(item, LabelledItem)
        else format_choice(item, rng)
        for item in items
    ]


def _binary_example(item: MultipleChoiceItem, rng: random.Random) -> Example:
    shows_correct = rng.random() < 0.5
    candidate = item.correct_answer if shows_correct else rng.choice(item.distractors)
    return Example(
        id=item.id,
        text=multiple_choice_text(item.question, candidate),
        label=int(shows_correct),
        difficulty=item.difficulty,
    )


def choice_letter(index: int) -> str:
    """A, B, ..., Z, then the 1-based number for choices past the 26th."""
    return chr(ord("A") + index) if index < 26 else str(index + 1)


def choices_text(question: str, choices: Sequence[str]) -> str:
    """The text a model sees for a K-way item: the question and every choice, lettered."""
    listed = " ".join(f"({choice_letter(i)}) {choice}" for i, choice in enumerate(choices))
    return f"Q: {question} Choices: {listed} A:"


def choice_count(items: Sequence[Item]) -> int | None:
    """The number of choices every multiple-choice item has (None without any), or a DatasetError."""
    first: MultipleChoiceItem | None = None
    for item in items:
        if not isinstance(item, MultipleChoiceItem):
            continue
        if first is None:
            first = item
        elif len(item.choices) != len(first.choices):
            raise DatasetError(
                "spec.dataset.format: choices needs the same number of choices on every item "
                f"(got {len(item.choices)} on item '{item.id}', {len(first.choices)} on item '{first.id}'); "
                "drop or pad the items with other counts, or use format: binary"
            )
    return None if first is None else len(first.choices)


def to_choice_examples(items: Sequence[Item], seed: int) -> list[Example]:
    """Format items as K-way examples, deterministically given ``seed``.

    A multiple-choice item lists its choices in a seeded random order (some sources always put the
    answer first) and is labelled with the answer's position. A labelled text passes through.
    """
    return _format_items(items, seed, _choice_example)


def _choice_example(item: MultipleChoiceItem, rng: random.Random) -> Example:
    order = list(range(len(item.choices)))
    rng.shuffle(order)
    text = choices_text(item.question, [item.choices[i] for i in order])
    return Example(item.id, text, order.index(item.answer_index), item.difficulty)


def format_examples(
    items: Sequence[Item], example_format: ExampleFormat, num_classes: int | None, seed: int
) -> tuple[list[Example], int]:
    """The examples of ``items`` in ``example_format`` and K, their number of classes.

    K is ``num_classes`` when set (``spec.dataset.numClasses``), else the largest label + 1 and at
    least the number of choices (format choices); every label must lie in 0..K-1.
    """
    if example_format is ExampleFormat.BINARY:
        examples = to_binary_examples(items, seed)
        return examples, count_classes(examples, num_classes)
    choices = choice_count(items)
    if num_classes is not None and choices is not None and num_classes != choices:
        raise DatasetError(
            f"spec.dataset.numClasses: must equal the number of choices with format choices (got {num_classes}; "
            f"the items have {choices} choices); set numClasses to {choices} or leave it unset"
        )
    examples = to_choice_examples(items, seed)
    return examples, count_classes(examples, num_classes, at_least=choices or 0)
