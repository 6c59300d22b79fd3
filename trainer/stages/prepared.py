"""The prepared data of one seed, as the prepare stage writes it and later stages read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

import numpy as np
from ensemw2s.spec import ExperimentSpec

from ..data import Splits
from ..store import StageOutput, StageWorkspace
from ..training.encoding import EncodedTexts, encode_texts
from .records import ExampleRecord, PreparedExamples

BINARY = 2  # binary formatting, as the original W2S code
SPLITS = ("easy", "val", "hard_train", "hard_test")
EXAMPLES_FILE = "examples.json"
LABELS_FILE = "labels.npz"


class Role(StrEnum):
    WEAK = "weak"
    STRONG = "strong"


ROLES = (Role.WEAK, Role.STRONG)


def split_texts(splits: Splits) -> dict[str, list[str]]:
    return {name: [e.text for e in splits.by_name(name)] for name in SPLITS}


def corpus_of(texts: dict[str, list[str]]) -> list[str]:
    """All prepared texts, unlabelled, in a fixed order: the vocabulary of the offline word tokenizers."""
    return [text for name in SPLITS for text in texts[name]]


def role_model(spec: ExperimentSpec, role: Role) -> tuple[str, str, int]:
    part = spec.weak if role is Role.WEAK else spec.strong
    return part.model, part.head.value, part.training.max_length


def encode_splits(spec: ExperimentSpec, role: Role, splits: Splits, seed: int) -> dict[str, EncodedTexts]:
    """Tokenise every split once with the role's tokenizer."""
    from ..models import load_tokenizer

    model, _, max_length = role_model(spec, role)
    texts = split_texts(splits)
    tokenizer = load_tokenizer(model, corpus_of(texts), field=f"spec.{role}.model")
    return {name: encode_texts(tokenizer, texts[name], max_length) for name in SPLITS}


def tokens_file(role: Role, split: str) -> str:
    return f"tokens-{role.value}-{split}.safetensors"


def save_prepared(
    workspace: StageWorkspace, splits: Splits, tokens: dict[Role, dict[str, EncodedTexts]], num_classes: int
) -> None:
    """Write examples.json (every split and ``numClasses``, K), labels.npz and the token files."""
    examples = {
        name: [
            ExampleRecord(id=e.id, text=e.text, label=e.label, difficulty=e.difficulty) for e in splits.by_name(name)
        ]
        for name in SPLITS
    }
    workspace.write_model(EXAMPLES_FILE, PreparedExamples(num_classes=num_classes, **examples))
    workspace.write_arrays(LABELS_FILE, **{name: np.array([e.label for e in splits.by_name(name)]) for name in SPLITS})
    for role, encoded in tokens.items():
        for name, enc in encoded.items():
            enc.save(workspace.directory / tokens_file(role, name))


@dataclass
class PreparedData:
    """Lazy reader of a prepare stage's output."""

    output: StageOutput
    _tokens: dict[tuple[Role, str], EncodedTexts] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def labels(self) -> dict[str, np.ndarray]:
        return self.output.read_arrays(LABELS_FILE, *SPLITS)

    @cached_property
    def examples(self) -> PreparedExamples:
        return self.output.read_model(EXAMPLES_FILE, PreparedExamples)

    @cached_property
    def texts(self) -> dict[str, list[str]]:
        return {name: [example.text for example in self.examples.split(name)] for name in SPLITS}

    @cached_property
    def corpus(self) -> list[str]:
        return corpus_of(self.texts)

    def tokens(self, role: Role, split: str) -> EncodedTexts:
        """The split's token file, read once per stage (a round trains several models on it)."""
        key = (role, split)
        if key not in self._tokens:
            self._tokens[key] = EncodedTexts.load(self.output.local_path(tokens_file(role, split)))
        return self._tokens[key]

    @property
    def num_classes(self) -> int:
        """K, as the prepare stage recorded it (``numClasses`` in examples.json)."""
        return self.examples.num_classes

    def onehot(self, split: str) -> np.ndarray:
        encoded: np.ndarray = np.eye(self.num_classes, dtype=np.float32)[self.labels[split]]
        return encoded
