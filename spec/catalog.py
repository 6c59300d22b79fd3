"""Names the spec can check without loading anything: model presets and datasets.

The trainer's registries are the source of the facts; tests assert these name lists match them,
so the operator (which has no torch) can reject an unknown preset before any pod starts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PresetFacts:
    name: str
    parameters: int  # approximate, for the "strong smaller than weak" warning
    pretrained: bool


MODEL_PRESETS: dict[str, PresetFacts] = {
    p.name: p
    for p in (
        PresetFacts("tiny-weak", 150_000, pretrained=False),
        PresetFacts("tiny-strong", 400_000, pretrained=False),
        PresetFacts("minilm", 22_700_000, pretrained=True),
        PresetFacts("minilm-l1", 13_800_000, pretrained=True),  # embeddings (11.9M) + 1 of MiniLM's 6 layers
        PresetFacts("minilm-l2", 15_600_000, pretrained=True),
        PresetFacts("minilm-l3", 17_400_000, pretrained=True),
    )
}

# Bare Hugging Face ids (no "org/") that are accepted without a preset entry.
KNOWN_BARE_HUB_MODELS: dict[str, int] = {
    "gpt2": 124_000_000,
    "gpt2-medium": 355_000_000,
    "gpt2-large": 774_000_000,
    "gpt2-xl": 1_558_000_000,
    "distilgpt2": 82_000_000,
    "bert-base-uncased": 110_000_000,
    "roberta-base": 125_000_000,
}

DATASETS: tuple[str, ...] = (
    "amazon_polarity",
    "arc-challenge",
    "arc-easy",
    "boolq",
    "cosmos_qa",
    "local",
    "quartz",
    "sciq",
    "synthetic-sentiment",
    "synthetic-topics",
)


def model_parameters(model: str) -> int | None:
    """Approximate parameter count when the name is known, else None."""
    if model in MODEL_PRESETS:
        return MODEL_PRESETS[model].parameters
    return KNOWN_BARE_HUB_MODELS.get(model)


def is_model_reference(model: str) -> bool:
    """A preset, a known bare hub id, an ``org/name`` hub id or a path."""
    if model in MODEL_PRESETS or model in KNOWN_BARE_HUB_MODELS:
        return True
    return "/" in model or model.startswith((".", "~", "file:"))
