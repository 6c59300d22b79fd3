"""Question-answer pairs tokenised once for a causal LM: prompt ids, then answer ids, then EOS.

A sequence is ``prompt + target + [eos]``, each part tokenised on its own without the tokenizer's special
tokens (the word-level tokenizers append [EOS] to every text, which would end the prompt), the EOS
appended explicitly: a model trained on it stops at EOS even where the tokenizer has no newline token
(the word-level tokenizers drop whitespace, the target's trailing newline included). The answer tokens
(target + EOS) are what token boosting weighs and scores (`AnswerTokens`); the prompt is never a target.

Too long a pair loses prompt tokens from the left (the question's start), never answer tokens: a cut
answer would teach a wrong answer. Decoding starts from the same prompt ids (:meth:`EncodedAnswers.prompt_ids`,
or :func:`encode_questions` for questions without answers, equal where no prompt was cut).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from transformers import PreTrainedTokenizerBase

from ..method.token_boosting import AnswerTokens
from .encoding import EncodedTexts, load_token_file, save_token_file
from .errors import TrainingError

FORMAT = "ensemw2s.encoded-answers.v1"


@dataclass(frozen=True)
class EncodedAnswers:
    """Every question's prompt + answer + EOS ids (:class:`EncodedTexts`) and where each answer starts."""

    sequences: EncodedTexts
    prompt_lengths: Tensor
    """(N,) int64: sequence i's first ``prompt_lengths[i]`` ids are its prompt, the rest its answer."""

    def __post_init__(self) -> None:
        lengths = self.sequences.lengths
        if self.prompt_lengths.shape != lengths.shape or bool(
            ((self.prompt_lengths < 1) | (self.prompt_lengths >= lengths)).any()
        ):
            raise TrainingError(
                "prompt_lengths",
                f"must be one length per sequence ({len(self.sequences)}), each >= 1 and below its sequence's",
                tuple(self.prompt_lengths.shape),
                "build them with encode_answers",
            )

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def answers(self) -> AnswerTokens:
        """Each question's answer (target + EOS) tokens in a flat per-token array: the token weights' layout."""
        return AnswerTokens.from_lengths((self.sequences.lengths - self.prompt_lengths).numpy())

    def prompt_ids(self) -> list[list[int]]:
        """Each question's prompt ids: where decoding starts (`ensemble_decode_ids`)."""
        return [self.sequences.ids(index)[: int(self.prompt_lengths[index])] for index in range(len(self))]

    def answer_mask(self, indices: Tensor, width: int) -> Tensor:
        """(B, width) bool, True on the answer tokens of questions ``indices`` (right-padded as `EncodedTexts.batch`)."""
        indices = indices.to(torch.int64)
        positions = torch.arange(width, dtype=torch.int64)[None, :]
        return (positions >= self.prompt_lengths[indices][:, None]) & (
            positions < self.sequences.lengths[indices][:, None]
        )

    def subset(self, indices: Sequence[int]) -> EncodedAnswers:
        """The questions ``indices``, in that order."""
        chosen = torch.as_tensor(list(indices), dtype=torch.int64)
        return EncodedAnswers(self.sequences.subset(chosen), self.prompt_lengths[chosen].clone())

    def save(self, path: Path) -> None:
        save_token_file(path, FORMAT, self.sequences, {"prompt_lengths": self.prompt_lengths.contiguous()})

    @classmethod
    def load(cls, path: Path) -> EncodedAnswers:
        sequences, tensors = load_token_file(path, FORMAT, "EncodedAnswers.save")
        return cls(sequences, tensors["prompt_lengths"])


def encode_answers(
    tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], targets: Sequence[str], max_length: int
) -> EncodedAnswers:
    """Tokenise each (prompt, target) pair once: prompt + target + [eos], at most ``max_length`` ids
    (capped at the tokenizer's ``model_max_length``), prompts cut from the left to fit."""
    if len(prompts) != len(targets):
        raise TrainingError(
            "targets", f"must hold one answer per prompt ({len(prompts)})", len(targets), "pair every question"
        )
    limit = _limit(tokenizer, max_length)
    eos, pad = _special_ids(tokenizer)
    prompt_rows = _prompt_ids(tokenizer, prompts)
    target_rows = _tokenize(tokenizer, targets)
    sequences: list[list[int]] = []
    prompt_lengths: list[int] = []
    for index, (prompt, target) in enumerate(zip(prompt_rows, target_rows, strict=True)):
        answer = [*target, eos]
        room = limit - len(answer)
        if room < 1:
            raise TrainingError(
                f"targets[{index}]",
                f"encodes to {len(answer)} tokens with EOS, leaving no room for its prompt in max_length {limit}",
                targets[index],
                "raise train.maxLength or shorten the answers",
            )
        kept = prompt[-room:]
        sequences.append([*kept, *answer])
        prompt_lengths.append(len(kept))
    return EncodedAnswers(
        EncodedTexts.from_lists(sequences, pad, limit), torch.tensor(prompt_lengths, dtype=torch.int64)
    )


def encode_questions(tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], max_length: int) -> list[list[int]]:
    """Each prompt's ids as :func:`encode_answers` starts its sequence, cut from the left to ``max_length - 1``
    ids (room for one answer token): equal to ``EncodedAnswers.prompt_ids()`` where no prompt was cut."""
    limit = _limit(tokenizer, max_length)
    return [row[-(limit - 1) :] for row in _prompt_ids(tokenizer, prompts)]


def _prompt_ids(tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str]) -> list[list[int]]:
    if not prompts:
        raise TrainingError("prompts", "is empty", None, "pass at least one question")
    rows = _tokenize(tokenizer, prompts)
    for index, row in enumerate(rows):
        if not row:
            raise TrainingError(
                f"prompts[{index}]", "encodes to no tokens", prompts[index], "give every question a prompt"
            )
    return rows


def _tokenize(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]) -> list[list[int]]:
    if not texts:
        return []
    encoded = tokenizer(list(texts), add_special_tokens=False, return_attention_mask=False)["input_ids"]
    return [[int(token) for token in row] for row in encoded]


def _limit(tokenizer: PreTrainedTokenizerBase, max_length: int) -> int:
    limit = min(int(max_length), int(tokenizer.model_max_length))
    if limit < 2:
        raise TrainingError("max_length", "must be >= 2 (a prompt token and EOS)", limit, "raise train.maxLength")
    return limit


def _special_ids(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int]:
    """(EOS, pad): EOS ends every answer; padding is masked, so any id pads (EOS when there is no pad)."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise TrainingError(
            "tokenizer.eos_token", "is not set", None, "load the tokenizer through load_causal_lm, which sets it"
        )
    pad = tokenizer.pad_token_id
    return int(eos), int(pad) if pad is not None else int(eos)
