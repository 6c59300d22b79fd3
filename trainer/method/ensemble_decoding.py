"""Greedy decoding from the alpha-weighted mixture of T causal LMs: the generation task's ensemble.

At every step p_ens(v | prefix) = sum_t alpha_t p_t(v | prefix) / sum_t alpha_t, a mixture of the learners'
next-token *probabilities* (not of their logits, which would be a product of experts), and the next token
is argmax p_ens (ties go to the lower token id). A question stops at an end token (EOS or an explicit
stop id), at a token whose text contains a stop string (a newline by default), or after
``max_new_tokens``. The learners' weights are the classification ensemble's: `prefix_weights` decides
them (alpha ``None`` takes the whole weight; alphas <= 0 are refused).

Cost: questions are decoded in batches, one KV cache per learner. The prompts are left-padded (every
question's next token sits in the last column) with attention masks and position ids counted over real
tokens only, so padding changes no output. Each step feeds only the new token to each learner: one
forward per learner per step over the whole batch, never per question. A question that stops is dropped
from the batch (its rows leave every cache), so the others' outputs do not change and finished questions
cost nothing. A learner whose weight is 0 (beside one with the whole weight) is never run.

LoRA rounds of one replicate share one frozen base: their learners hold the same peft model, each with
its own ``adapter`` name, which is activated before each of that learner's forwards (still one KV cache
per learner); the base is loaded once (`ensemw2s.trainer.models.causal_lm.load_ensemble_learners`).

`reference_ensemble_decode` computes the same thing slowly (per question, per learner, the whole prefix
every step, no cache); the tests compare the two token for token.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import torch
from ensemw2s.trainer.method.aggregation import prefix_weights
from ensemw2s.trainer.method.errors import MethodError
from torch import Tensor
from transformers import DynamicCache, PreTrainedModel, PreTrainedTokenizerBase

NEWLINE = "\n"


class StopReason(StrEnum):
    EOS = "eos"  # an end token: the tokenizer's or a model's EOS, or one of ``stop_token_ids``
    STOP_STRING = "stop_string"  # a token whose text contains a stop string (a newline by default)
    MAX_NEW_TOKENS = "max_new_tokens"


@dataclass(frozen=True)
class EnsembleLearner:
    """One boosting round's causal LM, the tokenizer it was trained with and its alpha (``None``: whole weight)."""

    name: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    alpha: float | None
    adapter: str | None = None
    """The learner's adapter in ``model``, a peft model that other learners share (None: the whole model)."""


@dataclass(frozen=True)
class DecodingSettings:
    """How far to decode and where to stop.

    ``add_special_tokens`` applies to text prompts: off by default because the word-level tokenizers
    append [EOS] to every text, which would end the prompt; turn it on for tokenizers that prepend BOS.
    """

    max_new_tokens: int = 32
    stop_strings: tuple[str, ...] = (NEWLINE,)
    stop_token_ids: tuple[int, ...] = ()
    batch_size: int = 32
    add_special_tokens: bool = False

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise MethodError(f"max_new_tokens: must be >= 1 (got {self.max_new_tokens}); decode at least one token")
        if self.batch_size < 1:
            raise MethodError(f"batch_size: must be >= 1 (got {self.batch_size}); decode at least one question at once")
        if any(not text for text in self.stop_strings):
            raise MethodError(
                f"stop_strings: must not hold an empty string (got {list(self.stop_strings)}); it would stop every "
                "question at its first token"
            )


@dataclass(frozen=True)
class GeneratedAnswer:
    """One question's decoded answer: what the aggregate stage stores and scores."""

    token_ids: tuple[int, ...]
    """Every generated token, the stop token included (as ``generate`` returns them)."""
    text: str
    """The answer text: end tokens and special tokens dropped, cut before the first stop string, trailing
    whitespace removed (leading whitespace kept: prompt + text is what the ensemble wrote)."""
    stop: StopReason
    token_probabilities: tuple[float, ...]
    """p_ens of each chosen token, one per entry of ``token_ids``."""


@dataclass(frozen=True)
class StopTokens:
    """The token ids that end a question, resolved once from the tokenizer and the settings."""

    end_ids: frozenset[int]
    string_ids: frozenset[int]
    strings: tuple[str, ...]

    def reason(self, token: int) -> StopReason | None:
        if token in self.end_ids:
            return StopReason.EOS
        if token in self.string_ids:
            return StopReason.STOP_STRING
        return None

    def answer_text(self, tokenizer: PreTrainedTokenizerBase, token_ids: Sequence[int]) -> str:
        ids = list(token_ids[:-1] if token_ids and token_ids[-1] in self.end_ids else token_ids)
        text = str(tokenizer.decode(ids, skip_special_tokens=True))
        cuts = [index for index in (text.find(stop) for stop in self.strings) if index >= 0]
        return (text[: min(cuts)] if cuts else text).rstrip()


def ensemble_decode(
    learners: Sequence[EnsembleLearner], prompts: Sequence[str], settings: DecodingSettings = DecodingSettings()
) -> list[GeneratedAnswer]:
    """The ensemble's greedy answer to every prompt, in the prompts' order (batched, cached)."""
    prompt_ids = encode_prompts(_first_tokenizer(learners), prompts, settings)
    return ensemble_decode_ids(learners, prompt_ids, settings)


def ensemble_decode_ids(
    learners: Sequence[EnsembleLearner],
    prompt_ids: Sequence[Sequence[int]],
    settings: DecodingSettings = DecodingSettings(),
) -> list[GeneratedAnswer]:
    """`ensemble_decode` for prompts already encoded (as the training stage encoded them)."""
    plan = _plan(learners, prompt_ids, settings)
    order = sorted(range(len(plan.prompts)), key=lambda index: len(plan.prompts[index]))  # less padding
    answers: dict[int, GeneratedAnswer] = {}
    with _inference(plan.models):
        for start in range(0, len(order), settings.batch_size):
            chunk = order[start : start + settings.batch_size]
            decoded = _decode_batch(plan, [plan.prompts[index] for index in chunk], settings.max_new_tokens)
            answers.update(zip(chunk, decoded, strict=True))
    return [answers[index] for index in range(len(plan.prompts))]


def reference_ensemble_decode(
    learners: Sequence[EnsembleLearner], prompts: Sequence[str], settings: DecodingSettings = DecodingSettings()
) -> list[GeneratedAnswer]:
    """The same answers computed slowly: per question, per learner, the whole prefix every step, no cache."""
    plan = _plan(learners, encode_prompts(_first_tokenizer(learners), prompts, settings), settings)
    answers = []
    with _inference(plan.models):
        for prompt in plan.prompts:
            tokens, chosen = list(prompt), []
            for _ in range(settings.max_new_tokens):
                ids = torch.tensor([tokens])
                logits = [
                    _logits(model, ids, torch.ones_like(ids), torch.arange(len(tokens))[None], None, adapter)
                    for model, adapter in zip(plan.models, plan.adapters, strict=True)
                ]
                probability, token = ensemble_distribution(logits, plan.weights)[0].max(dim=-1)
                tokens.append(int(token))
                chosen.append(float(probability))
                if plan.stop.reason(int(token)) is not None:
                    break
            answers.append(plan.answer(tokens[len(prompt) :], chosen))
    return answers


def ensemble_distribution(logits: Sequence[Tensor], weights: Sequence[float]) -> Tensor:
    """sum_t w_t softmax(logits_t) for weights summing to 1: shape (batch, vocabulary), in float32 or wider."""
    mixture: Tensor | None = None
    for learner_logits, weight in zip(logits, weights, strict=True):
        term = weight * torch.softmax(learner_logits.to(torch.promote_types(learner_logits.dtype, torch.float32)), -1)
        mixture = term if mixture is None else mixture + term.to(mixture.device)
    if mixture is None:
        raise MethodError("learners: must hold at least one learner with a weight > 0 (got none)")
    return mixture


def encode_prompts(
    tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], settings: DecodingSettings
) -> list[list[int]]:
    """Token ids of every prompt, unpadded."""
    if not prompts:
        return []
    encoded = tokenizer(list(prompts), add_special_tokens=settings.add_special_tokens)["input_ids"]
    return [list(ids) for ids in encoded]


def vocabulary_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """A short hash of the token -> id map and the EOS token: equal for tokenizers that encode alike.

    The vocabulary, not the tokenizer's JSON, which also records padding and truncation settings.
    """
    payload = json.dumps([sorted(tokenizer.get_vocab().items()), tokenizer.eos_token], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def check_shared_tokenizer(learners: Sequence[EnsembleLearner]) -> None:
    """Every learner must read and write the same token ids: same vocabulary, same logits width."""
    if not learners:
        raise MethodError("learners: must hold at least one learner (got 0); train a round first")
    first = learners[0]
    first_print, first_width = vocabulary_fingerprint(first.tokenizer), _logits_width(first.model)
    for index, learner in enumerate(learners):
        width = _logits_width(learner.model)
        fingerprint = first_print if learner.tokenizer is first.tokenizer else vocabulary_fingerprint(learner.tokenizer)
        if fingerprint != first_print:
            raise MethodError(
                f"learners[{index}] {learner.name!r}: its tokenizer differs from learners[0] {first.name!r}'s "
                f"(got vocabulary {fingerprint} of {len(learner.tokenizer)} tokens, against {first_print} of "
                f"{len(first.tokenizer)}); every learner of an ensemble must share one tokenizer: train every "
                "round from the same base model"
            )
        if width != first_width:
            raise MethodError(
                f"learners[{index}] {learner.name!r}: its model scores {width} tokens, learners[0] {first.name!r}'s "
                f"{first_width} (got different vocabulary sizes); every learner must come from one model family"
            )
        if len(learner.tokenizer) > width:
            raise MethodError(
                f"learners[{index}] {learner.name!r}: its tokenizer has more tokens than its model scores "
                f"(got {len(learner.tokenizer)} > {width}); resize the model's embeddings to the tokenizer"
            )


def stop_tokens(
    tokenizer: PreTrainedTokenizerBase, models: Sequence[PreTrainedModel], settings: DecodingSettings
) -> StopTokens:
    """End ids (EOS of the tokenizer and of every model's generation config, plus ``stop_token_ids``) and
    the ids of every token whose text contains a stop string (one scan of the vocabulary)."""
    end_ids = {*settings.stop_token_ids, *_ids(tokenizer.eos_token_id)}
    for model in models:
        generation_config = getattr(model, "generation_config", None)
        end_ids.update(_ids(getattr(generation_config, "eos_token_id", None)))
    string_ids: set[int] = set()
    if settings.stop_strings:
        texts = tokenizer.batch_decode([[index] for index in range(len(tokenizer))])
        string_ids = {index for index, text in enumerate(texts) if any(stop in text for stop in settings.stop_strings)}
    return StopTokens(frozenset(end_ids), frozenset(string_ids), settings.stop_strings)


# --- internals -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """The checked inputs of one decoding: the learners worth running, their weights, prompts, stops."""

    models: tuple[PreTrainedModel, ...]
    adapters: tuple[str | None, ...]
    weights: tuple[float, ...]
    prompts: tuple[tuple[int, ...], ...]
    stop: StopTokens
    tokenizer: PreTrainedTokenizerBase
    pad_id: int

    def answer(self, token_ids: Sequence[int], probabilities: Sequence[float]) -> GeneratedAnswer:
        reason = self.stop.reason(token_ids[-1]) or StopReason.MAX_NEW_TOKENS
        text = self.stop.answer_text(self.tokenizer, token_ids)
        return GeneratedAnswer(tuple(token_ids), text, reason, tuple(probabilities))


def _plan(
    learners: Sequence[EnsembleLearner], prompt_ids: Sequence[Sequence[int]], settings: DecodingSettings
) -> _Plan:
    check_shared_tokenizer(learners)
    weights = prefix_weights([learner.alpha for learner in learners])[-1]
    running = [index for index, weight in enumerate(weights) if weight > 0]
    models = tuple(learners[index].model for index in running)
    prompts = tuple(tuple(int(token) for token in ids) for ids in prompt_ids)
    for index, prompt in enumerate(prompts):
        if not prompt:
            raise MethodError(f"prompts[{index}]: encodes to no tokens (got []); give every question a prompt")
    _check_positions(learners, prompts, settings.max_new_tokens)
    tokenizer = learners[0].tokenizer
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return _Plan(
        models=models,
        adapters=tuple(learners[index].adapter for index in running),
        weights=tuple(float(weights[index]) for index in running),
        prompts=prompts,
        stop=stop_tokens(tokenizer, [learner.model for learner in learners], settings),
        tokenizer=tokenizer,
        pad_id=int(pad) if pad is not None else 0,  # any id: the attention mask hides padding
    )


def _decode_batch(plan: _Plan, prompts: Sequence[Sequence[int]], max_new_tokens: int) -> list[GeneratedAnswer]:
    """Greedy ensemble decoding of one batch: left padding, one cache per learner, finished rows dropped."""
    width = max(len(prompt) for prompt in prompts)
    input_ids = torch.full((len(prompts), width), plan.pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        input_ids[row, width - len(prompt) :] = torch.tensor(prompt)
        mask[row, width - len(prompt) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    caches = [DynamicCache(config=model.config) for model in plan.models]
    logits = [
        _logits(model, input_ids, mask, positions, cache, adapter)
        for model, cache, adapter in zip(plan.models, caches, plan.adapters, strict=True)
    ]
    rows = torch.arange(len(prompts))  # batch row -> question in this chunk
    tokens: list[list[int]] = [[] for _ in prompts]
    chosen: list[list[float]] = [[] for _ in prompts]
    for step in range(max_new_tokens):
        probabilities, next_tokens = (values.cpu() for values in ensemble_distribution(logits, plan.weights).max(-1))
        keep = []
        for row, (question, token, probability) in enumerate(
            zip(rows.tolist(), next_tokens.tolist(), probabilities.tolist(), strict=True)
        ):
            tokens[question].append(token)
            chosen[question].append(probability)
            if plan.stop.reason(token) is None:
                keep.append(row)
        if not keep or step == max_new_tokens - 1:
            break
        if len(keep) < len(rows):
            kept = torch.tensor(keep)
            rows, next_tokens, mask = rows[kept], next_tokens[kept], mask[kept]
            for cache, model in zip(caches, plan.models, strict=True):
                cache.batch_select_indices(kept.to(_device(model)))
        mask = torch.cat([mask, torch.ones((len(rows), 1), dtype=mask.dtype)], dim=1)
        step_positions = mask.sum(-1, keepdim=True) - 1
        logits = [
            _logits(model, next_tokens[:, None], mask, step_positions, cache, adapter)
            for model, cache, adapter in zip(plan.models, caches, plan.adapters, strict=True)
        ]
    return [plan.answer(tokens[question], chosen[question]) for question in range(len(prompts))]


def _logits(
    model: PreTrainedModel,
    input_ids: Tensor,
    mask: Tensor,
    positions: Tensor,
    cache: DynamicCache | None,
    adapter: str | None = None,
) -> Tensor:
    """The next-token logits after the last column, shape (batch, vocabulary); ``cache`` grows in place.

    ``adapter`` is activated first (a peft model shared by several learners); peft's forward passes the
    cache and the other keywords on to the base model, whose signature decides their names.
    """
    if adapter is not None:
        shared: Any = model
        shared.set_adapter(adapter, inference_mode=True)
    device = _device(model)
    arguments: dict[str, Any] = {
        "input_ids": input_ids.to(device),
        "attention_mask": mask.to(device),
        "position_ids": positions.to(device),
        "use_cache": cache is not None,
    }
    keywords = _forward_keywords(model)
    if cache is not None:
        arguments["cache" if "cache" in keywords else "past_key_values"] = cache
    if "logits_to_keep" in keywords:
        arguments["logits_to_keep"] = 1  # the LM head over the last position only
    output = model(**arguments)
    last: Tensor = output.logits[:, -1, :]
    return last


_FORWARD_KEYWORDS: dict[type[PreTrainedModel], frozenset[str]] = {}


def _forward_keywords(model: PreTrainedModel) -> frozenset[str]:
    """transformers renamed ``past_key_values`` to ``cache`` within 5.x: ask the signature (once per class).

    A peft model's forward takes ``**kwargs`` for its base model: the base model's signature counts.
    """
    base = getattr(model, "get_base_model", None)
    model_class = type(base() if callable(base) else model)
    if model_class not in _FORWARD_KEYWORDS:
        _FORWARD_KEYWORDS[model_class] = frozenset(inspect.signature(model_class.forward).parameters)
    return _FORWARD_KEYWORDS[model_class]


def _device(model: PreTrainedModel) -> torch.device:
    return next(model.parameters()).device


def _logits_width(model: PreTrainedModel) -> int:
    head = model.get_output_embeddings()  # type: ignore[no-untyped-call]
    weight = getattr(head, "weight", None)
    if isinstance(weight, Tensor):
        return int(weight.shape[0])
    return int(model.config.get_text_config().vocab_size)


def _check_positions(learners: Sequence[EnsembleLearner], prompts: Sequence[Sequence[int]], new_tokens: int) -> None:
    """A GPT-2-style model has a fixed number of positions; running past it is an opaque index error."""
    longest = max((len(prompt) for prompt in prompts), default=0)
    for index, learner in enumerate(learners):
        config = learner.model.config.get_text_config()
        limit = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)
        if isinstance(limit, int) and longest + new_tokens > limit:
            raise MethodError(
                f"learners[{index}] {learner.name!r}: the longest prompt ({longest} tokens) plus max_new_tokens "
                f"({new_tokens}) exceeds the model's {limit} positions (got {longest + new_tokens}); shorten the "
                "prompts or max_new_tokens"
            )


def _first_tokenizer(learners: Sequence[EnsembleLearner]) -> PreTrainedTokenizerBase:
    """The tokenizer to encode text prompts with; `_plan` checks that every learner shares it."""
    if not learners:
        raise MethodError("learners: must hold at least one learner (got 0); train a round first")
    return learners[0].tokenizer


def _ids(value: int | Sequence[int] | None) -> list[int]:
    if value is None:
        return []
    return [int(value)] if isinstance(value, int) else [int(item) for item in value]


@contextmanager
def _inference(models: Sequence[PreTrainedModel]) -> Iterator[None]:
    """Eval mode (no dropout) and no autograd while decoding; each model's training flag comes back after."""
    models = list({id(model): model for model in models}.values())  # LoRA learners share one model
    training = [model.training for model in models]
    for model in models:
        model.train(False)
    try:
        with torch.inference_mode():
            yield
    finally:
        for model, was_training in zip(models, training, strict=True):
            model.train(was_training)


__all__ = [
    "NEWLINE",
    "DecodingSettings",
    "EnsembleLearner",
    "GeneratedAnswer",
    "StopReason",
    "StopTokens",
    "check_shared_tokenizer",
    "encode_prompts",
    "ensemble_decode",
    "ensemble_decode_ids",
    "ensemble_distribution",
    "reference_ensemble_decode",
    "stop_tokens",
    "vocabulary_fingerprint",
]
