"""Names the spec can check without loading anything: model presets and datasets.

The trainer's registries are the source of the facts; tests assert these name lists match them,
so the operator (which has no torch) can reject an unknown preset before any pod starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PresetFacts:
    name: str
    parameters: int  # approximate, for the "strong smaller than weak" warning
    pretrained: bool
    causal_lm: bool
    """A decoder that writes text (``task: generation`` needs one); False for an encoder (BERT-like)."""


MODEL_PRESETS: dict[str, PresetFacts] = {
    p.name: p
    for p in (
        PresetFacts("tiny-weak", 150_000, pretrained=False, causal_lm=True),
        PresetFacts("tiny-strong", 400_000, pretrained=False, causal_lm=False),
        PresetFacts("minilm", 22_700_000, pretrained=True, causal_lm=False),
        # embeddings (11.9M) + 1 of MiniLM's 6 layers
        PresetFacts("minilm-l1", 13_800_000, pretrained=True, causal_lm=False),
        PresetFacts("minilm-l2", 15_600_000, pretrained=True, causal_lm=False),
        PresetFacts("minilm-l3", 17_400_000, pretrained=True, causal_lm=False),
        PresetFacts("smollm2-135m", 134_515_008, pretrained=True, causal_lm=True),
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
"""The registry's datasets (``task: classification``); ``local`` needs ``spec.dataset.source``."""

SYNTHETIC_WORD_OPS = "synthetic-word-ops"
"""The seeded easy-to-hard generation task (``ensemw2s.trainer.data.synthetic_generation``)."""
GENERATION_DATASETS: tuple[str, ...] = (
    "arc-challenge",
    "arc-easy",
    "boolq",
    "cosmos_qa",
    "quartz",
    "sciq",
    SYNTHETIC_WORD_OPS,
)
"""The datasets with questions and answers (``task: generation``): the registry's question-answering
datasets and the synthetic generation task; or any local question file (``spec.dataset.source``)."""


def causal_lm_presets() -> tuple[str, ...]:
    """The presets ``task: generation`` can train (decoders), sorted."""
    return tuple(sorted(name for name, facts in MODEL_PRESETS.items() if facts.causal_lm))


DATA_FILE_SUFFIXES: tuple[str, ...] = (".jsonl", ".csv")
"""The local dataset formats (``spec.dataset.source``)."""

MODEL_PATH_PREFIXES: tuple[str, ...] = ("/", "./", "../", "~", "file:")
"""A model written with one of these prefixes is a local directory, never a Hub id."""

HUB_ID_PART_MAX = 96
_HUB_ID_PART = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")


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


def model_path(model: str) -> Path | None:
    """The local directory a model names with a path prefix (``./m``, ``/m``, ``~/m``, ``file:///m``), else None.

    Without a prefix a name may still be a relative directory; the loader tries that first, then the Hub.
    """
    if not model.startswith(MODEL_PATH_PREFIXES):
        return None
    if model.startswith("file:"):
        model = model.removeprefix("file:").removeprefix("//") or "."
    return Path(model).expanduser()


def hub_id_problem(model: str) -> str | None:
    """Why ``model`` is not a well-formed Hugging Face id (``name`` or ``org/name``), or None when it is.

    The Hub's rules: one or two parts, each 1..96 letters, digits, '-', '_' or '.', starting and ending
    with a letter or digit, with no '--' or '..' inside.
    """
    parts = model.split("/")
    if len(parts) > 2:
        return "a Hugging Face id has at most one '/' (org/name)"
    for part in parts:
        if not part:
            return "a Hugging Face id has no empty part (org/name)"
        if len(part) > HUB_ID_PART_MAX:
            return f"each part of a Hugging Face id has at most {HUB_ID_PART_MAX} characters (one has {len(part)})"
        if not _HUB_ID_PART.match(part) or "--" in part or ".." in part:
            return (
                "each part of a Hugging Face id uses letters, digits, '-', '_' and '.', starts and ends "
                "with a letter or digit, and has no '--' or '..'"
            )
    return None
