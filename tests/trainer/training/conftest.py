"""Fixtures for the training tests: a small synthetic sentiment task and a tiny classifier."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from ensemw2s.trainer.models import LoadedClassifier, load_classifier
from ensemw2s.trainer.training import EncodedTexts, encode_texts, one_hot_targets

POSITIVE = ("good", "great", "nice", "fine")
NEGATIVE = ("bad", "awful", "terrible", "poor")
NEUTRAL = ("the", "movie", "was", "plot", "a", "and", "!")


@dataclass
class SentimentTask:
    texts: list[str]
    labels: np.ndarray
    loaded: LoadedClassifier
    encoded: EncodedTexts

    @property
    def targets(self) -> np.ndarray:
        return one_hot_targets(self.labels, 2)


def sentiment_texts(count: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(count):
        label = int(rng.integers(2))
        words = list(rng.choice(NEUTRAL, int(rng.integers(2, 14))))
        words.insert(int(rng.integers(len(words) + 1)), str(rng.choice(POSITIVE if label else NEGATIVE)))
        texts.append(" ".join(words))
        labels.append(label)
    return texts, np.array(labels)


def make_task(count: int = 96, seed: int = 0, model: str = "tiny-weak") -> SentimentTask:
    texts, labels = sentiment_texts(count, seed)
    loaded = load_classifier(model, 2, texts, seed=seed)
    return SentimentTask(texts, labels, loaded, encode_texts(loaded.tokenizer, texts, 32))


@pytest.fixture
def task() -> SentimentTask:
    return make_task()


@pytest.fixture
def task_factory():
    """``make_task(count, seed, model)`` for tests that need several tasks."""
    return make_task
