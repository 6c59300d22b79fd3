"""Shared pieces of the benchmarks: a synthetic text task and a timer. Not a test: prints ratios."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

WORDS = [
    "the",
    "a",
    "movie",
    "plot",
    "was",
    "and",
    "but",
    "actor",
    "scene",
    "great",
    "good",
    "fine",
    "nice",
    "bad",
    "awful",
    "poor",
    "terrible",
    "story",
    "question",
    "answer",
    "water",
    "planet",
    "science",
    "energy",
    "light",
    "cell",
    "atom",
    "force",
    "heat",
    "mass",
    "sun",
    "moon",
    "earth",
]
POSITIVE, NEGATIVE = {"great", "good", "fine", "nice"}, {"bad", "awful", "poor", "terrible"}

T = TypeVar("T")


def synthetic_task(count: int, seed: int = 0, min_words: int = 4, max_words: int = 60) -> tuple[list[str], np.ndarray]:
    """Texts of varied length and a binary label (more positive than negative words)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(count):
        words = [str(w) for w in rng.choice(WORDS, int(rng.integers(min_words, max_words + 1)))]
        texts.append(" ".join(words))
        labels.append(int(sum(w in POSITIVE for w in words) >= sum(w in NEGATIVE for w in words)))
    return texts, np.array(labels)


def best_of(repeats: int, run: Callable[[], T]) -> tuple[float, T]:
    """Fastest wall time of ``repeats`` runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        began = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - began)
    assert result is not None
    return best, result
