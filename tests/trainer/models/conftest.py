"""Fixtures for the model tests: a small corpus, built offline."""

from __future__ import annotations

import pytest

CORPUS = [
    "Q: What is the boiling point of water? A: 100 degrees!",
    "Q: Which planet is red? A: Mars.",
    "Q: What do plants need? A: Sunlight, water and air!",
    "The movie was great, the plot was fine.",
]


@pytest.fixture
def corpus() -> list[str]:
    return list(CORPUS)


@pytest.fixture
def offline_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """No network: hub lookups fail at once, as under HF_HUB_OFFLINE=1."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
