"""Tokenised texts, stored once and reused across rounds, and the per-batch padding collate.

``EncodedTexts`` keeps every example's token ids in one flat tensor with offsets (no padding at
rest); :meth:`EncodedTexts.batch` pads a batch on the right to its own longest example, vectorised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor
from transformers import PreTrainedTokenizerBase

from .errors import TrainingError

FORMAT = "ensemw2s.encoded-texts.v1"


class TokenBatch(NamedTuple):
    input_ids: Tensor  # (B, L) int64, right-padded with the pad id
    attention_mask: Tensor  # (B, L) int64, 1 on real tokens


@dataclass(frozen=True)
class EncodedTexts:
    token_ids: Tensor  # (total,) int32, every example's ids back to back
    offsets: Tensor  # (N + 1,) int64, example i is token_ids[offsets[i]:offsets[i + 1]]
    pad_id: int
    max_length: int

    @classmethod
    def from_lists(cls, ids: Sequence[Sequence[int]], pad_id: int, max_length: int) -> EncodedTexts:
        lengths = torch.tensor([len(row) for row in ids], dtype=torch.int64)
        offsets = torch.zeros(len(ids) + 1, dtype=torch.int64)
        torch.cumsum(lengths, 0, out=offsets[1:])
        flat = torch.tensor([token for row in ids for token in row], dtype=torch.int32)
        return cls(flat, offsets, pad_id, max_length)

    def __len__(self) -> int:
        return int(self.offsets.shape[0]) - 1

    @property
    def lengths(self) -> Tensor:
        return self.offsets[1:] - self.offsets[:-1]

    def ids(self, index: int) -> list[int]:
        start, end = int(self.offsets[index]), int(self.offsets[index + 1])
        return [int(token) for token in self.token_ids[start:end]]

    def batch(self, indices: Tensor) -> TokenBatch:
        """Examples ``indices``, right-padded to the batch's longest, with their attention mask."""
        indices = indices.to(torch.int64)
        starts = self.offsets[indices]
        lengths = self.offsets[indices + 1] - starts
        positions = torch.arange(int(lengths.max()), dtype=torch.int64)
        mask = positions[None, :] < lengths[:, None]
        gather = (starts[:, None] + positions[None, :]).clamp_(max=max(int(self.token_ids.shape[0]) - 1, 0))
        input_ids = self.token_ids[gather].to(torch.int64).masked_fill_(~mask, self.pad_id)
        return TokenBatch(input_ids, mask.to(torch.int64))

    def subset(self, indices: Sequence[int] | Tensor) -> EncodedTexts:
        """The examples ``indices``, in that order."""
        chosen = torch.as_tensor(indices, dtype=torch.int64)
        return EncodedTexts.from_lists([self.ids(int(i)) for i in chosen], self.pad_id, self.max_length)

    def tensors(self) -> dict[str, Tensor]:
        """The two tensors a token file stores."""
        return {"token_ids": self.token_ids.contiguous(), "offsets": self.offsets.contiguous()}

    def save(self, path: Path) -> None:
        save_token_file(path, FORMAT, self, {})

    @classmethod
    def load(cls, path: Path) -> EncodedTexts:
        texts, _ = load_token_file(path, FORMAT, "EncodedTexts.save")
        return texts


def encode_texts(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int) -> EncodedTexts:
    """Tokenise once (special tokens added, truncated to ``max_length``, capped at the tokenizer's own
    ``model_max_length``); reuse the result across rounds."""
    if not texts:
        raise TrainingError("texts", "is empty", None, "pass at least one text")
    effective = min(max_length, int(tokenizer.model_max_length))
    encoded = tokenizer(
        list(texts), truncation=True, max_length=effective, add_special_tokens=True, return_attention_mask=False
    )
    ids: list[list[int]] = encoded["input_ids"]
    for index, row in enumerate(ids):
        if not row:
            raise TrainingError(
                f"texts[{index}]", "encodes to no tokens", texts[index], "drop empty texts before encoding"
            )
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        raise TrainingError("tokenizer.pad_token", "is not set", None, "load the tokenizer through load_classifier")
    return EncodedTexts.from_lists(ids, int(pad_id), effective)


def save_token_file(path: Path, file_format: str, texts: EncodedTexts, extra: dict[str, Tensor]) -> None:
    """One safetensors file: the texts' ids and offsets, ``extra`` tensors, and the format tag checked on load."""
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"format": file_format, "pad_id": str(texts.pad_id), "max_length": str(texts.max_length)}
    save_file({**texts.tensors(), **extra}, str(path), metadata=metadata)


def load_token_file(path: Path, file_format: str, writer: str) -> tuple[EncodedTexts, dict[str, Tensor]]:
    """The texts of a `save_token_file` file and every tensor in it; a file of another format is refused."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    if metadata.get("format") != file_format:
        kind = file_format.split(".")[1]  # ensemw2s.<kind>.v1
        raise TrainingError(
            str(path), f"is not an {kind} file ({file_format})", metadata.get("format"), f"write it with {writer}"
        )
    tensors = load_file(str(path))
    texts = EncodedTexts(tensors["token_ids"], tensors["offsets"], int(metadata["pad_id"]), int(metadata["max_length"]))
    return texts, tensors
