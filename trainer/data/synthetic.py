"""synthetic-sentiment: the project's own seeded, license-clean easy-to-hard dataset.

Short statements whose label (1 positive, 0 negative) follows from word meaning. Easy items use
a base vocabulary; every hard item uses something easy items never contain: unseen synonyms,
connectives, negations, "X, but Y" contrasts. Difficulty is known by construction, one range per
kind, and the hard side is a spread:

    easy-plain 0.00-0.20 < easy-intensified 0.20-0.45
    < cued-hard-synonym 0.55-0.65 (an unseen synonym beside an easy word of the same polarity)
    < hard-synonym 0.65-0.75, agreeing "X, and also Y" 0.65-0.75
    < negation 0.75-0.85 < negated-hard-synonym, contrast 0.85-1.00

A word-level model trained from scratch on easy items keeps some signal on cued synonyms and
agreeing clauses (the unseen words around the easy cue are noise to it), is near chance on bare
unseen synonyms and wrong on negations and on contrasts that open with an easy word; a pretrained
encoder generalises through word meaning.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

import numpy as np

from .errors import DatasetError
from .records import BinaryItem, LabelledItem
from .synthetic_lexicon import (
    AGREEING_TEMPLATES,
    CONTRAST_TEMPLATES,
    CUE_TEMPLATES,
    EASY_NEGATIVE,
    EASY_POSITIVE,
    HARD_NEGATIVE,
    HARD_POSITIVE,
    INTENSIFIED_TEMPLATES,
    INTENSIFIERS,
    NEGATED_TEMPLATES,
    PLAIN_TEMPLATES,
    SUBJECTS,
)

NAME = "synthetic-sentiment"
DEFAULT_SIZE = 6000
GENERATOR_VERSION = 2
"""Bumped whenever the same (n, seed) would generate different items; part of the prepare stage's key."""
# In easy items the easy adjectives occur with Zipf frequencies, as words do: the common ones many
# times, the rare ones once or twice, so a small weak model trained briefly makes honest mistakes on
# them (and boosting has errors to focus on). Hard items draw every word uniformly, so the rare easy
# words are common there: one more shift from easy to hard.
ZIPF_EXPONENT = 1.5


class SyntheticKind(StrEnum):
    EASY_PLAIN = "easy-plain"
    EASY_INTENSIFIED = "easy-intensified"
    CUED_HARD_SYNONYM = "cued-hard-synonym"
    HARD_SYNONYM = "hard-synonym"
    AGREEING = "agreeing"
    NEGATION = "negation"
    NEGATED_HARD_SYNONYM = "negated-hard-synonym"
    CONTRAST = "contrast"


DIFFICULTY_RANGES: dict[SyntheticKind, tuple[float, float]] = {
    SyntheticKind.EASY_PLAIN: (0.0, 0.2),
    SyntheticKind.EASY_INTENSIFIED: (0.2, 0.45),
    SyntheticKind.CUED_HARD_SYNONYM: (0.55, 0.65),
    SyntheticKind.HARD_SYNONYM: (0.65, 0.75),
    SyntheticKind.AGREEING: (0.65, 0.75),
    SyntheticKind.NEGATION: (0.75, 0.85),
    SyntheticKind.NEGATED_HARD_SYNONYM: (0.85, 1.0),
    SyntheticKind.CONTRAST: (0.85, 1.0),
}
EASY_SHARES: dict[SyntheticKind, float] = {SyntheticKind.EASY_PLAIN: 0.5, SyntheticKind.EASY_INTENSIFIED: 0.5}
LABEL_PHRASES: dict[int, str] = {1: "with label 1", 0: "with label 0"}  # the labels, positive first
HARD_SHARES: dict[SyntheticKind, float] = {
    SyntheticKind.CUED_HARD_SYNONYM: 0.35,
    SyntheticKind.HARD_SYNONYM: 0.15,
    SyntheticKind.AGREEING: 0.25,
    SyntheticKind.NEGATION: 0.1,
    SyntheticKind.NEGATED_HARD_SYNONYM: 0.05,
    SyntheticKind.CONTRAST: 0.1,
}


def _adjectives(easy: bool, label: int) -> tuple[str, ...]:
    if easy:
        return EASY_POSITIVE if label == 1 else EASY_NEGATIVE
    return HARD_POSITIVE if label == 1 else HARD_NEGATIVE


Share = TypeVar("Share")  # what a total is shared among (kinds, labels)
Kind = TypeVar("Kind", bound=StrEnum)  # a synthetic dataset's kinds of item
ItemT = TypeVar("ItemT", bound=LabelledItem)
Slot = tuple[str, tuple[str, ...], tuple[float, ...] | None]  # name, options, frequencies (None: uniform)


def _word_frequencies(words: tuple[str, ...]) -> tuple[float, ...]:
    """Zipf frequencies (rank ** -ZIPF_EXPONENT, the list's order is the rank), normalised to sum 1."""
    raw = [(rank + 1) ** -ZIPF_EXPONENT for rank in range(len(words))]
    return tuple(value / sum(raw) for value in raw)


@dataclass(frozen=True)
class TextPattern:
    """All texts of one (kind, label): a template axis and the slots it fills, enumerated by index.

    A text's probability is the product of its slots' word frequencies (templates are uniform).
    """

    templates: tuple[str, ...]
    slots: tuple[Slot, ...]

    @property
    def capacity(self) -> int:
        return len(self.templates) * math.prod(len(values) for _, values, _ in self.slots)

    def probabilities(self) -> np.ndarray:
        """Probability of every index (the last slot varies fastest, as in :meth:`render`)."""
        p = np.full(len(self.templates), 1.0 / len(self.templates))
        for _, options, frequencies in self.slots:
            p = np.kron(p, np.full(len(options), 1.0 / len(options)) if frequencies is None else frequencies)
        normalised: np.ndarray = p / p.sum()
        return normalised

    def render(self, index: int) -> str:
        values: dict[str, str] = {}
        for name, options, _ in reversed(self.slots):
            index, pick = divmod(index, len(options))
            values[name] = options[pick]
        return self.templates[index].format(**values)


def word_slot(name: str, *groups: tuple[str, ...], zipf: bool = False) -> Slot:
    """A slot over word groups: uniform within each group, or Zipf frequencies with ``zipf``."""
    options: tuple[str, ...] = tuple(word for group in groups for word in group)
    weights: list[float] = []
    for group in groups:
        weights.extend(_word_frequencies(group) if zipf else [1.0 / len(group)] * len(group))
    total = sum(weights)
    return name, options, tuple(w / total for w in weights)


def _pattern(kind: SyntheticKind, label: int) -> TextPattern:
    subject: Slot = ("s", SUBJECTS, None)
    easy, hard = _adjectives(True, label), _adjectives(False, label)
    easy_flip, hard_flip = _adjectives(True, 1 - label), _adjectives(False, 1 - label)
    if kind is SyntheticKind.EASY_PLAIN:
        return TextPattern(PLAIN_TEMPLATES, (subject, word_slot("a", easy, zipf=True)))
    if kind is SyntheticKind.EASY_INTENSIFIED:
        return TextPattern(INTENSIFIED_TEMPLATES, (subject, ("i", INTENSIFIERS, None), word_slot("a", easy, zipf=True)))
    if kind is SyntheticKind.CUED_HARD_SYNONYM:
        return TextPattern(CUE_TEMPLATES, (subject, word_slot("e", easy), word_slot("h", hard)))
    if kind is SyntheticKind.HARD_SYNONYM:
        return TextPattern(PLAIN_TEMPLATES, (subject, word_slot("a", hard)))
    if kind is SyntheticKind.AGREEING:
        return TextPattern(AGREEING_TEMPLATES, (subject, word_slot("a1", easy, hard), word_slot("a2", easy, hard)))
    if kind is SyntheticKind.NEGATION:
        return TextPattern(NEGATED_TEMPLATES, (subject, word_slot("a", easy_flip)))
    if kind is SyntheticKind.NEGATED_HARD_SYNONYM:
        return TextPattern(NEGATED_TEMPLATES, (subject, word_slot("a", hard_flip)))
    return TextPattern(
        CONTRAST_TEMPLATES, (subject, word_slot("a1", easy_flip, hard_flip), word_slot("a2", easy, hard))
    )


def allocate(total: int, shares: dict[Share, float]) -> dict[Share, int]:
    """Split ``total`` by ``shares`` with the largest-remainder rule (deterministic)."""
    raw = {kind: total * share for kind, share in shares.items()}
    counts = {kind: math.floor(value) for kind, value in raw.items()}
    by_remainder = sorted(shares, key=lambda kind: raw[kind] - counts[kind], reverse=True)
    for kind in by_remainder[: total - sum(counts.values())]:
        counts[kind] += 1
    return counts


def generate_synthetic_sentiment(n: int, seed: int, hard_fraction: float = 0.5) -> list[BinaryItem]:
    """``n`` distinct items, balanced ~50/50 within the easy side and within the hard side.

    Ids read ``synthetic-sentiment/<kind>/<index>`` so results can be broken down by kind.
    """
    return generate_items(
        BinaryItem, NAME, n, seed, hard_fraction, LABEL_PHRASES, EASY_SHARES, HARD_SHARES, DIFFICULTY_RANGES, _pattern
    )


def generate_items(
    item_type: type[ItemT],
    name: str,
    n: int,
    seed: int,
    hard_fraction: float,
    labels: Mapping[int, str],
    easy: dict[Kind, float],
    hard: dict[Kind, float],
    ranges: Mapping[Kind, tuple[float, float]],
    pattern: Callable[[Kind, int], TextPattern],
) -> list[ItemT]:
    """``n`` distinct items of a synthetic dataset, shuffled, with ids ``<name>/<kind>/<index>``.

    Each side (easy, and hard with ``hard_fraction`` of ``n``) is split evenly among ``labels`` (each
    label and how the error for too few texts names it), then among the side's kinds by their shares;
    each kind's texts come from ``pattern``, its difficulties from ``ranges``.
    """
    if n < len(labels):
        raise DatasetError(f"{name}: n must be >= {len(labels)} (got {n}); raise spec.dataset.maxItems")
    if not 0.0 <= hard_fraction <= 1.0:
        raise DatasetError(f"{name}: hard_fraction must be in [0, 1] (got {hard_fraction}); pick e.g. 0.5")
    rng = np.random.default_rng(seed)
    n_hard = round(n * hard_fraction)
    drafts: list[tuple[Kind, str, int]] = []
    for side_total, shares in ((n - n_hard, easy), (n_hard, hard)):
        for label, label_total in allocate(side_total, dict.fromkeys(labels, 1 / len(labels))).items():
            for kind, count in allocate(label_total, shares).items():
                if count == 0:
                    continue
                shortage = f"{name}: n = {n} needs {count} distinct '{kind.value}' items {labels[label]}"
                drafts.extend((kind, text, label) for text in sample_texts(pattern(kind, label), count, rng, shortage))
    items: list[ItemT] = []
    for position, draft_index in enumerate(rng.permutation(len(drafts))):
        kind, text, label = drafts[int(draft_index)]
        low, high = ranges[kind]
        items.append(item_type(f"{name}/{kind.value}/{position:05d}", text, label, float(rng.uniform(low, high))))
    return items


def sample_texts(pattern: TextPattern, count: int, rng: np.random.Generator, shortage: str) -> list[str]:
    """``count`` distinct texts of ``pattern`` drawn by their probabilities; ``shortage`` opens the
    error raised when fewer than ``count`` exist."""
    if count > pattern.capacity:
        raise DatasetError(f"{shortage} but only {pattern.capacity} exist; lower spec.dataset.maxItems")
    picks = rng.choice(pattern.capacity, size=count, replace=False, p=pattern.probabilities())
    return [pattern.render(int(index)) for index in picks]


def kind_from_id(name: str, item_id: str, kinds: type[Kind]) -> Kind:
    """The kind encoded in an item id ``<name>/<kind>/<index>`` of a synthetic dataset."""
    parts = item_id.split("/")
    if len(parts) != 3 or parts[0] != name or parts[1] not in set(kinds):
        raise DatasetError(
            f"{name}: id {item_id!r} is not a {name} id "
            f"(expected {name}/<kind>/<index>, kinds: {', '.join(kinds)}); pass an id it generated"
        )
    return kinds(parts[1])


def synthetic_kind(item_id: str) -> SyntheticKind:
    """The kind encoded in a synthetic-sentiment item id."""
    return kind_from_id(NAME, item_id, SyntheticKind)
