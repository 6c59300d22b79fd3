"""Token-level AdaBoost of the generation setting: answer-token weights, errors, alpha and updates.

The samples are the answer tokens (i, j) under teacher forcing: question i's answer token j, prompt and
padding excluded. At round 0 every answer token weighs w_ij = 1 / M (M answer tokens in all). Round t:
e_ij = 1[argmax_v p_t(v | x_i, y_i,<j) != y_ij], eps_t = sum w_ij e_ij,
alpha_t = ln((1 - eps_t) / eps_t) + ln(1/q - 1), w_ij <- w_ij exp(alpha_t e_ij), normalised.

``q`` is a chance rate (default 1/V, V the vocabulary size: plain SAMME with K = V classes, so
``samme_alpha(eps, K) == token_samme_alpha(eps, 1/K)``). The ends of the range are those of
`ensemw2s.trainer.method.boosting`, whose `SammeAlpha` this module returns and whose weighted error and
log-space update it applies to the flat token weights: no clipping constant decides a weight; eps = 0
gives the learner the whole weight (``alpha`` None) and stops boosting; eps >= 1 - q is no better than
chance and stops boosting; eps < `DEGENERATE_EPS` is flagged.

Layout: flat array + offsets (`AnswerTokens`), as `EncodedTexts` stores token ids. Question i's answer
tokens are ``values[offsets[i]:offsets[i + 1]]``, in answer order. The boosting math is then the
classification math on a vector of M samples, unchanged, and nothing is stored for padding; batches get
a padded (B, L) view with a mask (`AnswerTokens.padded`), and a padded result comes back flat
(`AnswerTokens.flatten`; row-major order over the mask's True cells is the flat order).

Error smoothing (ours; the paper ablates a window length): with ``window`` W > 0 the update uses, for
token j, the mean of e over the tokens j-W..j+W of the same answer, truncated at the answer's ends (the
mean over the tokens that exist: an edge token is not diluted by tokens that are not there, and no
error crosses into another question). eps and alpha are measured on the raw errors: the window only
spreads where the next round's weight goes, so W = 0 is exactly the unsmoothed method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Self

import numpy as np
import numpy.typing as npt
from ensemw2s.trainer.method._checks import float_array, sample_weights
from ensemw2s.trainer.method.boosting import (
    SammeAlpha,
    samme_with_prior,
    uniform_weights,
    update_weights,
    weighted_error,
)
from ensemw2s.trainer.method.errors import MethodError

ROUND_ARRAYS = ("offsets", "weights", "errors", "next", "eps", "chance_rate", "window")
"""The arrays `TokenRound.to_arrays` writes (one ``.npz``) and `TokenRound.from_arrays` reads back."""
RESUME_TOLERANCE = 1e-9
"""How far a stored eps or next weight may be from its recomputation before the record counts as damaged."""


@dataclass(frozen=True, eq=False)
class AnswerTokens:
    """Where each question's answer tokens sit in a flat per-token array (see the module docstring)."""

    offsets: npt.NDArray[np.int64]
    """(N + 1,): question i owns flat[offsets[i]:offsets[i + 1]]; offsets[0] = 0, non-decreasing."""

    def __post_init__(self) -> None:
        offsets = np.asarray(self.offsets)
        if offsets.ndim != 1 or offsets.shape[0] < 2 or offsets.dtype.kind not in "iu":
            raise MethodError(
                f"offsets: must be N + 1 >= 2 integers (got shape {offsets.shape}, dtype {offsets.dtype}); "
                "build them with AnswerTokens.from_lengths"
            )
        if offsets[0] != 0 or np.any(np.diff(offsets) < 0):
            raise MethodError(
                f"offsets: must start at 0 and never decrease (got {offsets[:8].tolist()}...); "
                "build them with AnswerTokens.from_lengths"
            )
        object.__setattr__(self, "offsets", offsets.astype(np.int64))

    @classmethod
    def from_lengths(cls, lengths: npt.ArrayLike) -> Self:
        """The layout of answers of these token counts (0 allowed: an answer truncated away)."""
        counts = np.asarray(lengths)
        if counts.ndim != 1 or counts.size == 0 or counts.dtype.kind not in "iu" or np.any(counts < 0):
            raise MethodError(
                f"lengths: must be one integer >= 0 per question, at least one question (got {counts.tolist()}); "
                "count each answer's tokens"
            )
        return cls(np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]))

    @classmethod
    def from_mask(cls, mask: npt.ArrayLike) -> Self:
        """The layout of a padded (N, L) answer mask: question i has mask[i].sum() answer tokens."""
        return cls.from_lengths(_answer_mask(mask, "mask").sum(axis=1))

    @property
    def num_questions(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def num_tokens(self) -> int:
        """M: the answer tokens of every question together."""
        return int(self.offsets[-1])

    @property
    def lengths(self) -> npt.NDArray[np.int64]:
        return np.diff(self.offsets)

    def positions(self, questions: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The flat indices of ``questions``' answer tokens, question by question in the order given."""
        chosen = np.asarray(questions, dtype=np.int64).reshape(-1)
        parts = [np.arange(self.offsets[q], self.offsets[q + 1], dtype=np.int64) for q in chosen]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def uniform_weights(self) -> npt.NDArray[np.float64]:
        """w_ij = 1 / M: the token weights of round 0."""
        if self.num_tokens == 0:
            raise MethodError("answers: must hold at least one answer token (got 0); check the answer mask")
        return uniform_weights(self.num_tokens)

    def flatten(self, values: npt.ArrayLike, mask: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """A padded (N, L) per-position array of every question, as the flat per-token array."""
        answer = _answer_mask(mask, "mask")
        array = float_array(values, "values", ndim=2)
        _same_shape("values", array.shape, answer.shape)
        self._check_rows(answer, np.arange(self.num_questions))
        flat: npt.NDArray[np.float64] = array[answer]
        return flat

    def padded(
        self, values: npt.ArrayLike, mask: npt.ArrayLike, questions: npt.ArrayLike | None = None
    ) -> npt.NDArray[np.float64]:
        """The flat per-token ``values`` of ``questions`` (default: all) placed on a padded batch's mask.

        Row b of the (B, L) result holds question ``questions[b]``'s values at ``mask[b]``'s True cells, in
        order, and 0 elsewhere: the per-position weights a batch's loss takes.
        """
        flat = float_array(values, "values", ndim=1)
        _same_length("values", flat.shape[0], self.num_tokens)
        answer = _answer_mask(mask, "mask")
        rows = np.arange(self.num_questions) if questions is None else np.asarray(questions)
        if rows.ndim != 1 or rows.dtype.kind not in "iu" or np.any(rows < 0) or np.any(rows >= self.num_questions):
            raise MethodError(
                f"questions: must be indices in [0, {self.num_questions}) (got {rows.tolist()[:8]}); "
                "pass the batch's question indices"
            )
        self._check_rows(answer, rows)
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        picked = np.concatenate([flat[start:end] for start, end in zip(starts, ends, strict=True)] or [flat[:0]])
        out = np.zeros(answer.shape, dtype=np.float64)
        out[answer] = picked
        return out

    def _check_rows(self, answer: npt.NDArray[np.bool_], rows: npt.NDArray[np.int64]) -> None:
        if answer.shape[0] != rows.shape[0]:
            raise MethodError(
                f"mask: must have one row per question ({rows.shape[0]}) (got {answer.shape[0]}); "
                "pass the batch's answer mask"
            )
        counts = answer.sum(axis=1)
        wrong = np.flatnonzero(counts != self.lengths[rows])
        if wrong.size:
            row = int(wrong[0])
            raise MethodError(
                f"mask: row {row} marks {int(counts[row])} answer tokens but question {int(rows[row])} has "
                f"{int(self.lengths[rows[row]])} (got {wrong.size} such rows); build both from the same tokens"
            )


def token_errors(predicted_ids: npt.ArrayLike, gold_ids: npt.ArrayLike, mask: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """e_ij = predicted != gold on the answer tokens, flat in row-major mask order.

    All three are (N, L) and position-aligned: ``predicted_ids[i, k]`` is the prediction for
    ``gold_ids[i, k]`` (for a causal LM's logits use `token_errors.logits_token_errors`, which shifts).
    ``mask`` is True on answer tokens only: prompt and padding positions are never scored.
    """
    answer = _answer_mask(mask, "mask")
    for name, ids in (("predicted_ids", np.asarray(predicted_ids)), ("gold_ids", np.asarray(gold_ids))):
        _same_shape(name, ids.shape, answer.shape)
        if ids.dtype.kind not in "iu":
            raise MethodError(f"{name}: must be integer token ids (got dtype {ids.dtype}); take argmax ids")
    errors: npt.NDArray[np.bool_] = np.asarray(predicted_ids)[answer] != np.asarray(gold_ids)[answer]
    return errors


def smooth_token_errors(errors: npt.ArrayLike, answers: AnswerTokens, window: int) -> npt.NDArray[np.float64]:
    """Each token's error replaced by the mean error of tokens j-W..j+W of its own answer (truncated).

    One cumulative sum, so it costs O(M) whatever W.
    """
    e = _token_errors(errors, answers)
    size = _window(window)
    if size == 0:
        return e
    position = np.arange(e.shape[0])
    question = np.repeat(np.arange(answers.num_questions), answers.lengths)
    low = np.maximum(answers.offsets[question], position - size)
    high = np.minimum(answers.offsets[question + 1], position + size + 1)
    cumulative = np.concatenate([[0.0], np.cumsum(e)])
    smoothed: npt.NDArray[np.float64] = (cumulative[high] - cumulative[low]) / (high - low)
    return np.clip(smoothed, 0.0, 1.0)  # a cumulative sum's round-off must not leave [0, 1]


def vocabulary_chance_rate(vocab_size: int) -> float:
    """q = 1/V: the default chance rate, a guess among the V tokens of the vocabulary."""
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int | np.integer) or vocab_size < 2:
        raise MethodError(f"vocab_size: must be an integer >= 2 (got {vocab_size!r}); pass the tokenizer's size")
    return 1.0 / int(vocab_size)


def token_chance_error(chance_rate: float) -> float:
    """1 - q: the weighted error of a learner that guesses each token right with probability q."""
    return 1.0 - _chance_rate(chance_rate)


def token_samme_alpha(eps: float, chance_rate: float) -> SammeAlpha:
    """alpha = ln((1 - eps) / eps) + ln(1/q - 1); ``None`` at eps = 0; not better than chance from 1 - q.

    At q = 1/K it is `samme_alpha(eps, K)`: same ends, same degenerate flag.
    """
    q = _chance_rate(chance_rate)
    return samme_with_prior(eps, token_chance_error(q), math.log(1.0 / q - 1.0))


def token_chance_stop_reason(round_index: int, eps: float, chance_rate: float) -> str:
    """Why boosting stopped at a learner no better than chance on the answer tokens."""
    return (
        f"round {round_index}: eps {eps:.3g} >= 1 - q = {token_chance_error(chance_rate):.6g}, "
        "learner no better than chance on the answer tokens; stopped adding rounds"
    )


def update_token_weights(
    weights: npt.ArrayLike, errors: npt.ArrayLike, alpha: float, answers: AnswerTokens, window: int = 0
) -> npt.NDArray[np.float64]:
    """w_ij exp(alpha e_ij), normalised, with e smoothed over ``window`` (see `smooth_token_errors`)."""
    w = _token_weights(weights, answers)
    return update_weights(w, smooth_token_errors(errors, answers, window), alpha)


def token_loss_scales(weights: npt.ArrayLike, answers: AnswerTokens) -> npt.NDArray[np.float64]:
    """s_ij = N w_ij / sum(w), N questions: per-token loss scales for the unbiased batch estimate.

    As classification's `example_loss_scales` with the question as the item: a batch of B questions
    takes (1/B) sum of s_ij NLL_ij over its answer tokens (`token_errors.scaled_token_nll`), whose
    expectation over uniformly drawn batches is sum w NLL / sum w. Normalising within each batch instead
    (`token_weighted_nll`) lets a batch of light tokens weigh as much as a batch of heavy ones.
    """
    w = _token_weights(weights, answers, normalised=False)
    total = float(w.sum())
    if total <= 0.0:
        raise MethodError("weights: must not all be zero (got sum 0); pass AdaBoost's normalised token weights")
    scales: npt.NDArray[np.float64] = w * (answers.num_questions / total)
    return scales


@dataclass(frozen=True, eq=False)
class TokenRound:
    """One round of token boosting, enough to resume the next: built by `boost_tokens`.

    ``next_weights`` equals ``weights`` when boosting stopped (no better than chance, or eps = 0).
    """

    answers: AnswerTokens
    weights: npt.NDArray[np.float64]
    """The token weights the round trained under and measured eps with."""
    errors: npt.NDArray[np.bool_]
    """The raw token errors e_ij (before any smoothing)."""
    eps: float
    samme: SammeAlpha
    chance_rate: float
    window: int
    next_weights: npt.NDArray[np.float64]

    @property
    def stopped(self) -> bool:
        """Boosting adds no round after this one."""
        return self.samme.whole_weight or not self.samme.better_than_chance

    def to_arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """The arrays of `ROUND_ARRAYS`, for one ``.npz`` (alpha is not stored: it follows from eps and q)."""
        return {
            "offsets": self.answers.offsets,
            "weights": self.weights,
            "errors": self.errors,
            "next": self.next_weights,
            "eps": np.asarray(self.eps),
            "chance_rate": np.asarray(self.chance_rate),
            "window": np.asarray(self.window, dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, npt.NDArray[np.generic]]) -> TokenRound:
        """The round `to_arrays` wrote, recomputed from its inputs; a stored eps or next that disagrees fails."""
        missing = [name for name in ROUND_ARRAYS if name not in arrays]
        if missing:
            raise MethodError(
                f"arrays: lack {', '.join(missing)} (got {', '.join(sorted(arrays))}); write them with TokenRound.to_arrays"
            )
        window = np.asarray(arrays["window"])
        if window.shape != () or window.dtype.kind not in "iu":
            raise MethodError(f"window: must be one integer (got {window!r}); write it with TokenRound.to_arrays")
        rebuilt = boost_tokens(
            arrays["weights"],
            arrays["errors"],
            AnswerTokens(np.asarray(arrays["offsets"])),
            float(np.asarray(arrays["chance_rate"])),
            int(window),
        )
        for name, stored, recomputed in (
            ("eps", arrays["eps"], rebuilt.eps),
            ("next", arrays["next"], rebuilt.next_weights),
        ):
            stored_array = np.asarray(stored, dtype=np.float64)
            if stored_array.shape != np.shape(recomputed) or not np.allclose(
                stored_array, recomputed, rtol=RESUME_TOLERANCE, atol=RESUME_TOLERANCE
            ):
                raise MethodError(
                    f"{name}: does not match its recomputation from weights and errors (got shape "
                    f"{stored_array.shape}); the round's arrays are damaged, redo the round"
                )
        return rebuilt


def boost_tokens(
    weights: npt.ArrayLike, errors: npt.ArrayLike, answers: AnswerTokens, chance_rate: float, window: int = 0
) -> TokenRound:
    """One round's boosting step: eps from the raw errors, alpha, and the next weights (smoothed update)."""
    w = _token_weights(weights, answers)
    raw = _token_errors(errors, answers)
    if not np.all((raw == 0) | (raw == 1)):
        raise MethodError("errors: must be 0 or 1 per token (got fractions); pass token_errors(...), unsmoothed")
    eps = weighted_error(w, raw)
    samme = token_samme_alpha(eps, chance_rate)
    next_weights = w
    if samme.alpha is not None and samme.better_than_chance:
        next_weights = update_token_weights(w, raw, samme.alpha, answers, window)
    return TokenRound(
        answers=answers,
        weights=w,
        errors=raw.astype(bool),
        eps=eps,
        samme=samme,
        chance_rate=float(chance_rate),
        window=_window(window),
        next_weights=next_weights,
    )


def _answer_mask(mask: npt.ArrayLike, name: str) -> npt.NDArray[np.bool_]:
    array = np.asarray(mask)
    if array.ndim != 2 or array.dtype != np.bool_:
        raise MethodError(
            f"{name}: must be a 2-D boolean (N, L) answer mask (got shape {array.shape}, dtype {array.dtype}); "
            "True on answer tokens, False on prompt and padding"
        )
    return array


def _same_shape(name: str, shape: tuple[int, ...], expected: tuple[int, ...]) -> None:
    if shape != expected:
        raise MethodError(f"{name}: must have the mask's shape {expected} (got {shape}); pad both the same way")


def _same_length(name: str, size: int, tokens: int) -> None:
    if size != tokens:
        raise MethodError(
            f"{name}: must have one entry per answer token, {tokens} (got {size}); use the same AnswerTokens"
        )


def _token_weights(weights: npt.ArrayLike, answers: AnswerTokens, normalised: bool = True) -> npt.NDArray[np.float64]:
    w = sample_weights(weights) if normalised else float_array(weights, "weights", ndim=1)
    _same_length("weights", w.shape[0], answers.num_tokens)
    if np.any(w < 0):
        raise MethodError(f"weights: must be non-negative (got min {w.min():.3g}); use token weights >= 0")
    return w


def _token_errors(errors: npt.ArrayLike, answers: AnswerTokens) -> npt.NDArray[np.float64]:
    e = float_array(errors, "errors", ndim=1)
    _same_length("errors", e.shape[0], answers.num_tokens)
    if np.any((e < 0) | (e > 1)):
        raise MethodError(f"errors: must be in [0, 1] (got min {e.min():.3g}, max {e.max():.3g}); pass token_errors")
    return e


def _window(window: int) -> int:
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 0:
        raise MethodError(f"window: must be an integer >= 0 (got {window!r}); 0 turns smoothing off")
    return int(window)


def _chance_rate(chance_rate: float) -> float:
    if isinstance(chance_rate, bool) or not isinstance(chance_rate, float | int) or not 0.0 < chance_rate < 1.0:
        raise MethodError(
            f"chance_rate: must be a probability in (0, 1) (got {chance_rate!r}); "
            "the default is 1/V (vocabulary_chance_rate)"
        )
    return float(chance_rate)
