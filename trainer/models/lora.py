"""LoRA (peft) on a classifier: a frozen backbone, trainable low-rank adapters and a trainable head.

:func:`add_lora` wraps a classifier's body in peft in place: a causal-LM backbone of the last-token head
as ``FEATURE_EXTRACTION`` (the linear head stays outside peft, fully trainable), an
``AutoModelForSequenceClassification`` as ``SEQ_CLS`` (peft keeps its classifier trainable and saved as
``modules_to_save``). The result is still an ``nn.Module`` of the same class: the training loop,
accelerate's ``prepare`` and ``predict_proba`` see no difference.

A saved adapted classifier (:func:`save_adapted`) is small: ``adapter_config.json`` and
``adapter_model.safetensors`` (peft's own files, so ``PeftModel.from_pretrained(base, directory)`` loads
them), ``head.safetensors`` for a last-token head, ``classifier.json`` naming the base (model reference
and the seed that built it: a randomly initialised preset is rebuilt from it), and the tokenizer.
:func:`load_adapted` builds the base once and applies the adapter.

peft is imported only here, and only when a spec asks for LoRA (it takes seconds to import).
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from ensemw2s.spec import HeadKind
from ensemw2s.spec.experiment import ALL_LINEAR, Lora
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import PreTrainedTokenizerBase
from transformers.pytorch_utils import Conv1D

from .classifier import CLASSIFIER_FILE, FORMAT_VERSION, Classifier, LastTokenClassifier
from .errors import ModelError, first_line

if TYPE_CHECKING:
    from .loading import LoadedClassifier

HEAD_FILE = "head.safetensors"
ADAPTER_CONFIG_FILE = "adapter_config.json"
ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors"
BASE_KEY = "adapter_base"
"""The key of ``classifier.json`` that marks an adapted classifier and names its base."""


@dataclass(frozen=True)
class AdapterBase:
    """What rebuilds the frozen base an adapter was trained on."""

    model: str
    """The preset, directory or hub id, as the spec names it."""
    seed: int
    """The seed the base was built with (random-init presets and new heads depend on it)."""


def load_trainable(
    model: str,
    num_labels: int,
    corpus: Sequence[str] | None,
    seed: int,
    head: HeadKind | str,
    lora: Lora | None,
    *,
    base_seed: int,
    field: str,
) -> LoadedClassifier:
    """A fresh classifier to train: fully (``lora`` None, built from ``seed``), or as adapters from ``seed``
    on a base built from ``base_seed`` (one base for every learner of a replicate, so rounds share it)."""
    from .loading import load_classifier

    if lora is None:
        return load_classifier(model, num_labels, corpus, seed, head, field=field)
    loaded = load_classifier(model, num_labels, corpus, base_seed, head, field=field)
    add_lora(loaded.model, lora, seed, field=field)
    return dataclasses.replace(loaded, adapter_base=AdapterBase(model, base_seed))


def add_lora(classifier: Classifier, lora: Lora, seed: int, *, field: str) -> None:
    """Freeze ``classifier``'s backbone and wrap it with fresh adapters (initialised from ``seed``)."""
    if classifier.adapted:
        raise ModelError(field, "already carries LoRA adapters", None, "add adapters to a fresh classifier once")
    task = "FEATURE_EXTRACTION" if isinstance(classifier, LastTokenClassifier) else "SEQ_CLS"
    classifier.replace_body(wrap_with_lora(classifier.body, lora, task, seed, field=field))


def wrap_with_lora(module: nn.Module, lora: Lora, task: str, seed: int, *, field: str) -> nn.Module:
    """``module`` frozen under fresh adapters (peft's ``get_peft_model``), initialised from ``seed``.

    ``task`` is peft's ``TaskType`` name: ``CAUSAL_LM`` for a language model, ``FEATURE_EXTRACTION`` or
    ``SEQ_CLS`` for a classifier's body. GPT-2's transposed linears (``Conv1D``) are found and flagged.
    """
    from peft import LoraConfig, TaskType, get_peft_model

    targets: str | list[str] = ALL_LINEAR if lora.target_modules == [ALL_LINEAR] else list(lora.target_modules)
    config = LoraConfig(
        task_type=TaskType[task],
        r=lora.r,
        lora_alpha=lora.alpha,  # type: ignore[arg-type]  # annotated int; peft scales by alpha / r, floats too
        lora_dropout=lora.dropout,
        target_modules=targets,
        fan_in_fan_out=any(isinstance(part, Conv1D) for part in module.modules()),  # GPT-2's transposed linears
    )
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        torch.manual_seed(seed)
        warnings.simplefilter("ignore", FutureWarning)  # transformers' deprecations, peft's to fix
        try:
            wrapped: nn.Module = get_peft_model(module, config)
        except ValueError as error:
            raise ModelError(
                f"{field.rsplit('.', 1)[0]}.lora.targetModules" if "." in field else "lora.targetModules",
                f"matches no layer peft can adapt ({first_line(error)})",
                lora.target_modules,
                f"name modules of the model (c_attn for GPT-2; query, value for BERT) or [{ALL_LINEAR}]",
            ) from error
    return wrapped


def trainable_parameters(classifier: Classifier) -> int:
    return sum(parameter.numel() for parameter in classifier.parameters() if parameter.requires_grad)


def save_adapted(loaded: LoadedClassifier, base: AdapterBase, directory: Path) -> None:
    """Adapters, head, header and tokenizer; never the frozen backbone (see the module docstring)."""
    classifier = loaded.model
    if not classifier.adapted:
        raise ModelError("classifier", "carries no LoRA adapters", None, "save it with LoadedClassifier.save")
    directory.mkdir(parents=True, exist_ok=True)
    body: Any = classifier.body
    body.save_pretrained(str(directory))
    (directory / "README.md").unlink(missing_ok=True)  # peft's model card template: no content of ours
    if isinstance(classifier, LastTokenClassifier):
        save_file(
            {name: tensor.detach().cpu().contiguous() for name, tensor in classifier.score.state_dict().items()},
            str(directory / HEAD_FILE),
        )
    header = {
        "format_version": FORMAT_VERSION,
        "head": str(classifier.head_kind),
        "num_labels": classifier.num_labels,
        BASE_KEY: {"model": base.model, "seed": base.seed},
    }
    (directory / CLASSIFIER_FILE).write_text(json.dumps(header, indent=2) + "\n")
    loaded.tokenizer.save_pretrained(directory)


def adapter_base(header: dict[str, Any]) -> AdapterBase | None:
    """The base an adapted classifier's header names, or None for a whole saved classifier."""
    entry = header.get(BASE_KEY)
    if entry is None:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("model"), str) or not isinstance(entry.get("seed"), int):
        raise ModelError(
            CLASSIFIER_FILE,
            f"{BASE_KEY} must name the base model and its seed",
            entry,
            "the file is damaged: rerun the stage that wrote it",
        )
    return AdapterBase(model=entry["model"], seed=entry["seed"])


def load_adapted(directory: Path, header: dict[str, Any], tokenizer: PreTrainedTokenizerBase) -> LoadedClassifier:
    """Build the base once (its tokenizer is the saved one) and apply the saved adapter and head (eval mode)."""
    from peft import PeftModel

    from .loading import LoadedClassifier, load_classifier

    base = adapter_base(header)
    assert base is not None
    loaded = load_classifier(
        base.model, int(header["num_labels"]), None, base.seed, HeadKind(header["head"]), tokenizer=tokenizer
    )
    classifier = loaded.model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        classifier.replace_body(PeftModel.from_pretrained(classifier.body, str(directory)))
    if isinstance(classifier, LastTokenClassifier):
        classifier.score.load_state_dict(load_file(str(directory / HEAD_FILE)))
    return LoadedClassifier(classifier.eval(), loaded.tokenizer, loaded.preset_name, base)
