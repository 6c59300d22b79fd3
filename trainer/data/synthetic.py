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
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from .errors import DatasetError
from .records import BinaryItem
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
HARD_SHARES: dict[SyntheticKind, float] = {
    SyntheticKind.CUED_HARD_SYNONYM: 0.25,
    SyntheticKind.HARD_SYNONYM: 0.2,
    SyntheticKind.AGREEING: 0.2,
    SyntheticKind.NEGATION: 0.1,
    SyntheticKind.NEGATED_HARD_SYNONYM: 0.1,
    SyntheticKind.CONTRAST: 0.15,
}


def _adjectives(easy: bool, label: int) -> tuple[str, ...]:
    if easy:
        return EASY_POSITIVE if label == 1 else EASY_NEGATIVE
    return HARD_POSITIVE if label == 1 else HARD_NEGATIVE


@dataclass(frozen=True)
class _Pattern:
    """All texts of one (kind, label): a template axis and the slots it fills, enumerated by index."""

    templates: tuple[str, ...]
    slots: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def capacity(self) -> int:
        return len(self.templates) * math.prod(len(values) for _, values in self.slots)

    def render(self, index: int) -> str:
        values: dict[str, str] = {}
        for name, options in reversed(self.slots):
            index, pick = divmod(index, len(options))
            values[name] = options[pick]
        return self.templates[index].format(**values)


def _pattern(kind: SyntheticKind, label: int) -> _Pattern:
    subject = ("s", SUBJECTS)
    if kind is SyntheticKind.EASY_PLAIN:
        return _Pattern(PLAIN_TEMPLATES, (subject, ("a", _adjectives(True, label))))
    if kind is SyntheticKind.EASY_INTENSIFIED:
        return _Pattern(INTENSIFIED_TEMPLATES, (subject, ("i", INTENSIFIERS), ("a", _adjectives(True, label))))
    if kind is SyntheticKind.CUED_HARD_SYNONYM:
        return _Pattern(CUE_TEMPLATES, (subject, ("e", _adjectives(True, label)), ("h", _adjectives(False, label))))
    if kind is SyntheticKind.HARD_SYNONYM:
        return _Pattern(PLAIN_TEMPLATES, (subject, ("a", _adjectives(False, label))))
    if kind is SyntheticKind.AGREEING:
        same = _adjectives(True, label) + _adjectives(False, label)
        return _Pattern(AGREEING_TEMPLATES, (subject, ("a1", same), ("a2", same)))
    if kind is SyntheticKind.NEGATION:
        return _Pattern(NEGATED_TEMPLATES, (subject, ("a", _adjectives(True, 1 - label))))
    if kind is SyntheticKind.NEGATED_HARD_SYNONYM:
        return _Pattern(NEGATED_TEMPLATES, (subject, ("a", _adjectives(False, 1 - label))))
    before = _adjectives(True, 1 - label) + _adjectives(False, 1 - label)
    after = _adjectives(True, label) + _adjectives(False, label)
    return _Pattern(CONTRAST_TEMPLATES, (subject, ("a1", before), ("a2", after)))


def _allocate(total: int, shares: dict[SyntheticKind, float]) -> dict[SyntheticKind, int]:
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
    if n < 2:
        raise DatasetError(f"{NAME}: n must be >= 2 (got {n}); raise spec.dataset.maxItems")
    if not 0.0 <= hard_fraction <= 1.0:
        raise DatasetError(f"{NAME}: hard_fraction must be in [0, 1] (got {hard_fraction}); pick e.g. 0.5")
    rng = np.random.default_rng(seed)
    n_hard = round(n * hard_fraction)
    drafts: list[tuple[SyntheticKind, str, int]] = []
    for side_total, shares in ((n - n_hard, EASY_SHARES), (n_hard, HARD_SHARES)):
        for label, label_total in ((1, (side_total + 1) // 2), (0, side_total // 2)):
            for kind, count in _allocate(label_total, shares).items():
                drafts.extend((kind, text, label) for text in _sample_texts(kind, label, count, n, rng))
    order = rng.permutation(len(drafts))
    items: list[BinaryItem] = []
    for position, draft_index in enumerate(order):
        kind, text, label = drafts[int(draft_index)]
        low, high = DIFFICULTY_RANGES[kind]
        difficulty = float(rng.uniform(low, high))
        items.append(BinaryItem(f"{NAME}/{kind.value}/{position:05d}", text, label, difficulty))
    return items


def _sample_texts(kind: SyntheticKind, label: int, count: int, n: int, rng: np.random.Generator) -> Sequence[str]:
    if count == 0:
        return []
    pattern = _pattern(kind, label)
    if count > pattern.capacity:
        raise DatasetError(
            f"{NAME}: n = {n} needs {count} distinct '{kind.value}' items with label {label} but only "
            f"{pattern.capacity} exist; lower spec.dataset.maxItems"
        )
    picks = rng.choice(pattern.capacity, size=count, replace=False)
    return [pattern.render(int(index)) for index in picks]


def synthetic_kind(item_id: str) -> SyntheticKind:
    """The kind encoded in a synthetic-sentiment item id."""
    parts = item_id.split("/")
    if len(parts) != 3 or parts[0] != NAME or parts[1] not in set(SyntheticKind):
        raise DatasetError(
            f"{NAME}: id {item_id!r} is not a synthetic-sentiment id "
            f"(expected {NAME}/<kind>/<index>, kinds: {', '.join(SyntheticKind)}); pass an id it generated"
        )
    return SyntheticKind(parts[1])
