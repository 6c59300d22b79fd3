"""One verb for the prepare stage: turn ``spec.dataset`` (name / source / maxItems) into items."""

from __future__ import annotations

import numpy as np

from .errors import DatasetError
from .hub import load_hub_items
from .local import load_local_items
from .records import Item
from .registry import LOCAL, SYNTHETIC_SENTIMENT, SYNTHETIC_TOPICS, get_dataset
from .synthetic import DEFAULT_SIZE, generate_synthetic_sentiment
from .synthetic_topics import DEFAULT_SIZE as TOPICS_DEFAULT_SIZE
from .synthetic_topics import generate_synthetic_topics


def load_dataset_items(name: str, source: str | None, max_items: int | None, seed: int) -> list[Item]:
    """Items from a local file (``source`` set), the synthetic generator, or the Hugging Face Hub.

    Every path shuffles with ``seed`` and keeps at most ``max_items``; the synthetic datasets
    generate exactly ``max_items`` (default 6000).
    """
    if max_items is not None and max_items < 1:
        raise DatasetError(f"spec.dataset.maxItems: must be >= 1 (got {max_items}); raise it or leave it unset")
    if source is not None:
        return shuffled_prefix(load_local_items(source), max_items, seed)
    if name == LOCAL:
        raise DatasetError(
            "spec.dataset.source: required when spec.dataset.name is 'local' (got none); set source: file://path.jsonl"
        )
    if name == SYNTHETIC_SENTIMENT:
        return list(generate_synthetic_sentiment(max_items or DEFAULT_SIZE, seed))
    if name == SYNTHETIC_TOPICS:
        return list(generate_synthetic_topics(max_items or TOPICS_DEFAULT_SIZE, seed))
    return load_hub_items(get_dataset(name), max_items, seed)


def shuffled_prefix(items: list[Item], max_items: int | None, seed: int) -> list[Item]:
    """A seeded shuffle of ``items``, truncated to ``max_items``."""
    order = np.random.default_rng(seed).permutation(len(items))
    if max_items is not None:
        order = order[:max_items]
    return [items[int(i)] for i in order]
