"""Models: presets, offline word-level tokenizers, classifiers with a common interface, causal LMs, and loading."""

from .causal_lm import LoadedCausalLM, load_causal_lm, load_ensemble_learners
from .classifier import Classifier, LastTokenClassifier, SequenceClassifier, last_token_positions
from .errors import ModelError
from .loading import LoadedClassifier, load_classifier, load_tokenizer, resolve_head
from .presets import PRESETS, ModelPreset, PadHandling, TokenizerKind, find_preset, preset_names
from .tokenizer import BoundaryToken, build_word_tokenizer

__all__ = [
    "PRESETS",
    "BoundaryToken",
    "Classifier",
    "LastTokenClassifier",
    "LoadedCausalLM",
    "LoadedClassifier",
    "ModelError",
    "ModelPreset",
    "PadHandling",
    "SequenceClassifier",
    "TokenizerKind",
    "build_word_tokenizer",
    "find_preset",
    "last_token_positions",
    "load_causal_lm",
    "load_classifier",
    "load_ensemble_learners",
    "load_tokenizer",
    "preset_names",
    "resolve_head",
]
