"""Shared pieces of the benchmarks: a synthetic text task and a timer. Not a test: prints ratios."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

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


def synthetic_task(count: int, seed: int = 0, min_words: int = 4, max_words: int = 60) -> tuple[list[str], np.ndarray]:
    """Texts of varied length and a binary label (more positive than negative words)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(count):
        words = [str(w) for w in rng.choice(WORDS, int(rng.integers(min_words, max_words + 1)))]
        texts.append(" ".join(words))
        labels.append(int(sum(w in POSITIVE for w in words) >= sum(w in NEGATIVE for w in words)))
    return texts, np.array(labels)


@dataclass
class Timing:
    wall: float = float("inf")  # best wall-clock seconds
    cpu: float = float("inf")  # best CPU seconds of this process (robust when other jobs share the cores)


def compare(runs: dict[str, Callable[[], int]], repeats: int) -> dict[str, tuple[Timing, int]]:
    """Run every side ``repeats`` times, interleaved; best wall and CPU time per side, and its count."""
    results: dict[str, tuple[Timing, int]] = {name: (Timing(), 0) for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            count = run()
            timing = results[name][0]
            timing.wall = min(timing.wall, time.perf_counter() - wall)
            timing.cpu = min(timing.cpu, time.process_time() - cpu)
            results[name] = (timing, count)
    return results
