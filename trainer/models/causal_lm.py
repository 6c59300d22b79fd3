"""Causal language models for the generation task: built, saved and loaded as directories.

``load_causal_lm`` gives a fresh, seeded ``*ForCausalLM`` and its tokenizer from a preset (``tiny-weak``:
GPT-2 from the preset's config, random init, word-level tokenizer built from the corpus; ``smollm2-135m``:
the cached dequantised folder), a local directory or a Hugging Face model id. With a ``Lora`` spec the model
is a frozen base built from ``base_seed`` under fresh adapters initialised from ``seed``, so every round of
a replicate shares one base.

A saved directory (:meth:`LoadedCausalLM.save`) holds ``causal_lm.json`` and the tokenizer, and either the
whole model (``save_pretrained``) or, under LoRA, peft's own adapter files only
(``PeftModel.from_pretrained(base, directory)`` loads them); the header then names the base (model
reference and seed) that :meth:`LoadedCausalLM.load` rebuilds. ``load_ensemble_learners`` loads the rounds
of an ensemble: whole models one by one, adapter rounds as named adapters on one shared base.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from ensemw2s.spec import HeadKind
from ensemw2s.spec.experiment import Lora
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from ..method.ensemble_decoding import EnsembleLearner
from .errors import ModelError
from .loading import (
    DAMAGED_FILE_ERRORS,
    load_tokenizer,
    quiet_load_report,
    read_pretrained,
    readable_directory,
    resolve_head,
    resolve_reference,
    set_padding,
)
from .lora import AdapterBase, wrap_with_lora
from .presets import ModelPreset, find_preset

CAUSAL_LM_FILE = "causal_lm.json"
FORMAT_VERSION = 1
BASE_KEY = "adapter_base"
DEFAULT_ADAPTER = "default"
"""peft's adapter name for a model with one adapter (what plain ``PeftModel.from_pretrained`` uses)."""
_LORA_TASK = "CAUSAL_LM"


@dataclass
class LoadedCausalLM:
    """A causal LM (or a peft model around one, under LoRA) and the tokenizer its ids come from."""

    model: PreTrainedModel
    """A ``*ForCausalLM``, or a ``PeftModel`` around one (typed as the model it behaves as)."""
    tokenizer: PreTrainedTokenizerBase
    """Pad token and EOS set; right padding."""
    adapter_base: AdapterBase | None = None
    """The frozen base under the adapters (None: every weight is the model's)."""

    @property
    def adapted(self) -> bool:
        return not isinstance(self.model, PreTrainedModel)

    def save(self, directory: Path) -> None:
        """The model (whole, or its adapters only), the tokenizer and ``causal_lm.json`` into ``directory``."""
        header: dict[str, Any] = {"format_version": FORMAT_VERSION}
        if self.adapted:
            if self.adapter_base is None:
                raise ModelError(
                    "adapter_base", "is not set on an adapted causal LM", None, "build it with load_causal_lm"
                )
            header[BASE_KEY] = {"model": self.adapter_base.model, "seed": self.adapter_base.seed}
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(str(directory))
        (directory / "README.md").unlink(missing_ok=True)  # peft's model card template: no content of ours
        self.tokenizer.save_pretrained(directory)
        (directory / CAUSAL_LM_FILE).write_text(json.dumps(header, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> LoadedCausalLM:
        """The saved model in eval mode, float32, on the CPU (an adapted one on its rebuilt base)."""
        base = read_causal_lm_header(directory)
        tokenizer = AutoTokenizer.from_pretrained(directory)
        set_padding(tokenizer, str(directory), str(directory))
        if base is None:
            with readable_directory(str(directory), directory, str(directory)), quiet_load_report():
                model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
            model.train(False)
            return cls(model, tokenizer)
        built = _build(base.model, None, base.seed, f"{directory}/{CAUSAL_LM_FILE}", tokenizer)
        return cls(_load_adapters(built.model, [directory], [DEFAULT_ADAPTER]), tokenizer, base)


def load_causal_lm(
    model: str, corpus: Sequence[str] | None, seed: int, lora: Lora | None, *, base_seed: int, field: str
) -> LoadedCausalLM:
    """A fresh causal LM to train: whole from ``seed`` (``lora`` None), or adapters from ``seed`` on a frozen
    base built from ``base_seed``. ``corpus`` builds the tiny preset's word-level tokenizer; ``field`` is
    the spec path named in errors (e.g. ``spec.weak.model``). Returned in train mode."""
    if lora is None:
        return _build(model, corpus, seed, field)
    loaded = _build(model, corpus, base_seed, field)
    adapted: Any = wrap_with_lora(loaded.model, lora, _LORA_TASK, seed, field=field)
    return LoadedCausalLM(adapted.train(), loaded.tokenizer, AdapterBase(model, base_seed))


def causal_preset_names() -> tuple[str, ...]:
    from .presets import PRESETS

    return tuple(sorted(name for name, preset in PRESETS.items() if preset.causal_lm))


def read_causal_lm_header(directory: Path) -> AdapterBase | None:
    """The base a saved causal LM's adapters need, or None for a whole saved model; a bad header is named."""
    path = directory / CAUSAL_LM_FILE
    if not path.is_file():
        raise ModelError(
            str(directory),
            f"is not a saved causal LM: {CAUSAL_LM_FILE} is missing",
            None,
            "pass a directory written by LoadedCausalLM.save",
        )
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            str(path),
            f"is not a causal LM header of format_version {FORMAT_VERSION}",
            header,
            "the file is damaged or from another version: rerun the stage that wrote it",
        )
    entry = header.get(BASE_KEY)
    if entry is None:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("model"), str) or not isinstance(entry.get("seed"), int):
        raise ModelError(
            str(path),
            f"{BASE_KEY} must name the base model and its seed",
            entry,
            "the file is damaged: rerun the stage that wrote it",
        )
    return AdapterBase(model=entry["model"], seed=entry["seed"])


def load_ensemble_learners(directories: Sequence[Path], alphas: Sequence[float | None]) -> list[EnsembleLearner]:
    """The saved rounds as ensemble learners, named after their directories, in order.

    Whole models load one by one. Adapter rounds on the same base share one model: the base is built
    once and each round's adapters are loaded onto it under their own name, which decoding activates
    before each of that learner's forwards.
    """
    if len(directories) != len(alphas):
        raise ModelError(
            "alphas",
            f"must hold one alpha per directory ({len(directories)})",
            len(alphas),
            "pass each round's alpha (None: the whole weight)",
        )
    bases = [read_causal_lm_header(directory) for directory in directories]
    learners: dict[int, EnsembleLearner] = {}
    for base in dict.fromkeys(base for base in bases if base is not None):
        rounds = [index for index, other in enumerate(bases) if other == base]
        tokenizers = [_saved_tokenizer(directories[index]) for index in rounds]
        field = f"{directories[rounds[0]]}/{CAUSAL_LM_FILE}"
        names = [f"learner_{index}" for index in rounds]
        built = _build(base.model, None, base.seed, field, tokenizers[0])
        shared = _load_adapters(built.model, [directories[index] for index in rounds], names)
        for index, name, tokenizer in zip(rounds, names, tokenizers, strict=True):
            learners[index] = EnsembleLearner(directories[index].name, shared, tokenizer, alphas[index], name)
    for index, saved_base in enumerate(bases):
        if saved_base is None:
            loaded = LoadedCausalLM.load(directories[index])
            learners[index] = EnsembleLearner(directories[index].name, loaded.model, loaded.tokenizer, alphas[index])
    return [learners[index] for index in range(len(directories))]


# --- internals -----------------------------------------------------------------------------------------


def _build(
    model: str,
    corpus: Sequence[str] | None,
    seed: int,
    field: str,
    tokenizer: PreTrainedTokenizerBase | None = None,
) -> LoadedCausalLM:
    """A whole causal LM, its random parts seeded (the global torch RNG untouched), in train mode.

    ``tokenizer`` replaces the one a word-level preset would build from ``corpus`` (a saved adapter's base).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        preset = find_preset(model)
        if preset is not None:
            loaded = _from_preset(preset, corpus, field, tokenizer)
        else:
            source = resolve_reference(model, field)
            if isinstance(source, Path) and (source / CAUSAL_LM_FILE).is_file():
                loaded = LoadedCausalLM.load(source)
            elif isinstance(source, Path):
                with readable_directory(model, source, field):
                    loaded = _from_pretrained(str(source), field)
            else:
                loaded = _from_pretrained(source, field)
    loaded.model.train()
    return loaded


def _from_preset(
    preset: ModelPreset, corpus: Sequence[str] | None, field: str, tokenizer: PreTrainedTokenizerBase | None
) -> LoadedCausalLM:
    if not preset.causal_lm:
        raise ModelError(
            field,
            f"preset {preset.name!r} is an encoder, which cannot generate answers",
            preset.name,
            f"use a causal LM for task: generation (presets: {', '.join(causal_preset_names())})",
        )
    if preset.weights is not None:
        with quiet_load_report():
            return _from_pretrained(str(preset.weights()), field)
    assert preset.config_factory is not None
    if tokenizer is None:
        tokenizer = load_tokenizer(preset.name, corpus, field=field)
    config = preset.config_factory(len(tokenizer), int(tokenizer.pad_token_id), int(tokenizer.eos_token_id))
    config.use_cache = True  # the preset's classifier needs no cache; decoding does (one per learner)
    model = AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
    return LoadedCausalLM(model, tokenizer)


def _from_pretrained(source: str, field: str) -> LoadedCausalLM:
    config, tokenizer = read_pretrained(source, field)
    if resolve_head(config, source, field) is not HeadKind.LAST_TOKEN:
        raise ModelError(
            field,
            f"{source!r} is an encoder ({config.model_type}), which cannot generate answers",
            None,
            f"use a causal LM for task: generation (presets: {', '.join(causal_preset_names())})",
        )
    model = AutoModelForCausalLM.from_pretrained(source, config=config, dtype=torch.float32)
    return LoadedCausalLM(model, tokenizer)


def _saved_tokenizer(directory: Path) -> PreTrainedTokenizerBase:
    tokenizer = AutoTokenizer.from_pretrained(directory)
    set_padding(tokenizer, str(directory), str(directory))
    return tokenizer


def _load_adapters(base: PreTrainedModel, directories: Sequence[Path], names: Sequence[str]) -> PreTrainedModel:
    """One peft model over ``base`` holding each directory's adapters under its name; eval mode."""
    from peft import PeftModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            model: Any = PeftModel.from_pretrained(base, str(directories[0]), adapter_name=names[0])
            for directory, name in zip(directories[1:], names[1:], strict=True):
                model.load_adapter(str(directory), adapter_name=name)
        except (*DAMAGED_FILE_ERRORS, ValueError, KeyError) as error:
            raise ModelError(
                str(directories[0]),
                f"cannot load the LoRA adapters onto their base ({type(error).__name__}: {error})",
                None,
                "a file is damaged or the base differs from the one trained on: rerun the stage that wrote it",
            ) from error
    model.eval()
    adapted: PreTrainedModel = model
    return adapted
