"""Classifiers: ``forward(input_ids, attention_mask) -> logits (B, K)``, saved and loaded as a directory.

Two heads behind one interface:

- :class:`LastTokenClassifier`: a causal-LM backbone (``AutoModel``) and a zero-initialised linear head
  over the hidden state of the last real token. The last token is found through the attention mask,
  never by comparing token ids with a pad id (the original code counted ids != 0, which breaks on
  GPT-2, whose token 0 is "!").
- :class:`SequenceClassifier`: an ``AutoModelForSequenceClassification`` (encoders such as BERT).

A saved directory holds ``classifier.json`` (head kind, classes), the backbone's ``config.json`` and
``model.safetensors``.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import torch
from ensemw2s.spec import HeadKind
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model
from torch import Tensor, nn
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, PreTrainedModel

from .errors import ModelError

CLASSIFIER_FILE = "classifier.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT_VERSION = 1


def last_token_positions(attention_mask: Tensor) -> Tensor:
    """Index of the last position whose mask is 1, per row (works for right and left padding)."""
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    return (attention_mask.to(positions.dtype) * positions).argmax(dim=1)


class Classifier(nn.Module, ABC):
    """A K-way text classifier over token ids."""

    head_kind: ClassVar[HeadKind]
    body_attribute: ClassVar[str]
    """The attribute holding the module the head reads (the backbone, or the backbone under LoRA adapters)."""
    num_labels: int

    @property
    def body(self) -> nn.Module:
        """The backbone as trained: the Hugging Face model, or a peft model around it (see :mod:`.lora`)."""
        module: nn.Module = getattr(self, self.body_attribute)
        return module

    def replace_body(self, module: nn.Module) -> None:
        """Put ``module`` (the body wrapped in adapters) in the body's place: a method, as ``nn.Module``
        registers an assigned module under the assigned name and never calls a property's setter."""
        setattr(self, self.body_attribute, module)

    @property
    def adapted(self) -> bool:
        """Whether the body carries LoRA adapters (its backbone is frozen and stored apart)."""
        return not isinstance(self.body, PreTrainedModel)

    @property
    def backbone(self) -> PreTrainedModel:
        """The Hugging Face model whose config is saved beside the weights (under the adapters, if any)."""
        body = self.body
        if isinstance(body, PreTrainedModel):
            return body
        peft_model: Any = body
        base: PreTrainedModel = peft_model.get_base_model()
        return base

    @abstractmethod
    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Logits of shape (batch, num_labels)."""

    def __call__(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        result: Tensor = super().__call__(input_ids, attention_mask)
        return result

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def save(self, directory: Path) -> None:
        """Write classifier.json, config.json and model.safetensors into ``directory``."""
        if self.adapted:
            raise ModelError(
                "classifier",
                "carries LoRA adapters, which are saved without the frozen backbone",
                None,
                "save it through LoadedClassifier.save (ensemw2s.trainer.models.lora.save_adapted)",
            )
        directory.mkdir(parents=True, exist_ok=True)
        self.backbone.config.save_pretrained(directory)
        header = {"format_version": FORMAT_VERSION, "head": str(self.head_kind), "num_labels": self.num_labels}
        (directory / CLASSIFIER_FILE).write_text(json.dumps(header, indent=2) + "\n")
        save_model(self, str(directory / WEIGHTS_FILE))

    @staticmethod
    def load(directory: Path) -> Classifier:
        """Rebuild a saved classifier (eval mode, float32, on the CPU)."""
        header = read_header(directory)
        config = AutoConfig.from_pretrained(directory)
        classifier: Classifier
        if header["head"] == HeadKind.LAST_TOKEN:
            backbone = AutoModel.from_config(config)  # type: ignore[no-untyped-call]
            classifier = LastTokenClassifier(backbone, int(header["num_labels"]))
        else:
            model = AutoModelForSequenceClassification.from_config(config)  # type: ignore[no-untyped-call]
            classifier = SequenceClassifier(model)
        weights = directory / WEIGHTS_FILE
        try:
            load_model(classifier, str(weights))
        except (SafetensorError, OSError) as error:
            raise ModelError(
                str(weights),
                f"cannot read the saved weights ({str(error).strip().splitlines()[0] if str(error).strip() else 'unreadable'})",
                None,
                "the file is damaged or incomplete: rerun the stage that wrote it",
            ) from error
        return classifier.eval()


def read_header(directory: Path) -> dict[str, Any]:
    """The saved classifier's header, checked."""
    path = directory / CLASSIFIER_FILE
    if not path.is_file():
        raise ModelError(
            str(directory),
            f"is not a saved classifier: {CLASSIFIER_FILE} is missing",
            None,
            "pass a directory written by Classifier.save or LoadedClassifier.save",
        )
    try:
        header: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(
            str(path),
            f"is not valid JSON ({error.msg if isinstance(error, json.JSONDecodeError) else 'not UTF-8'})",
            None,
            "the file is damaged: rerun the stage that wrote it",
        ) from None
    allowed = (HeadKind.LAST_TOKEN.value, HeadKind.SEQUENCE_CLASSIFICATION.value)
    if (
        not isinstance(header, dict)
        or header.get("format_version") != FORMAT_VERSION
        or header.get("head") not in allowed
    ):
        raise ModelError(
            str(path),
            f"unsupported classifier header (format_version {FORMAT_VERSION}, head in {allowed})",
            header,
            "save the classifier again with this version",
        )
    return header


class LastTokenClassifier(Classifier):
    """Causal-LM backbone + zero-initialised linear head over the last real token's hidden state."""

    head_kind: ClassVar[HeadKind] = HeadKind.LAST_TOKEN
    body_attribute: ClassVar[str] = "transformer"

    def __init__(self, backbone: PreTrainedModel, num_labels: int) -> None:
        super().__init__()
        self.transformer = backbone
        self.num_labels = num_labels
        hidden_size = int(backbone.config.hidden_size)
        self.score = nn.Linear(hidden_size, num_labels)
        nn.init.zeros_(self.score.weight)
        nn.init.zeros_(self.score.bias)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        last = hidden[rows, last_token_positions(attention_mask)]
        logits: Tensor = self.score(last)
        return logits


class SequenceClassifier(Classifier):
    """An ``AutoModelForSequenceClassification`` behind the common interface."""

    head_kind: ClassVar[HeadKind] = HeadKind.SEQUENCE_CLASSIFICATION
    body_attribute: ClassVar[str] = "model"

    def __init__(self, model: PreTrainedModel) -> None:
        super().__init__()
        self.model = model
        num_labels = model.config.num_labels
        if num_labels is None:
            raise ModelError("model.config.num_labels", "is not set", None, "build the model with num_labels")
        self.num_labels = int(num_labels)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        logits: Tensor = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
        return logits
