import io
import math
import re

import numpy as np
import pytest
import torch
from ensemw2s.trainer.method import MethodError, samme_alpha
from ensemw2s.trainer.method.token_boosting import (
    AnswerTokens,
    TokenRound,
    boost_tokens,
    smooth_token_errors,
    token_chance_error,
    token_chance_stop_reason,
    token_errors,
    token_loss_scales,
    token_samme_alpha,
    update_token_weights,
    vocabulary_chance_rate,
)
from ensemw2s.trainer.method.token_errors import (
    aligned_predictions,
    logits_token_errors,
    per_token_nll,
    scaled_token_nll,
    token_weighted_nll,
)

# Three answers of 2, 3 and 1 tokens; the learner gets the second token of answer 0 and the last of
# answer 1 wrong: eps = 2/6 = 1/3.
ANSWERS = AnswerTokens.from_lengths([2, 3, 1])
ERRORS = np.array([0, 1, 0, 0, 1, 0], dtype=bool)
Q = 1 / 4  # V = 4


def test_round_zero_weights_are_one_over_the_answer_tokens():
    assert ANSWERS.num_questions == 3 and ANSWERS.num_tokens == 6
    assert ANSWERS.offsets.tolist() == [0, 2, 5, 6]
    assert ANSWERS.uniform_weights() == pytest.approx([1 / 6] * 6)


def test_one_round_by_hand():
    result = boost_tokens(ANSWERS.uniform_weights(), ERRORS, ANSWERS, chance_rate=Q)
    assert result.eps == pytest.approx(1 / 3)
    # ln((2/3) / (1/3)) + ln(1/q - 1) = ln 2 + ln 3
    assert result.samme.alpha == pytest.approx(math.log(6))
    assert result.samme.better_than_chance and not result.samme.degenerate and not result.stopped
    assert result.next_weights == pytest.approx(np.array([1, 6, 1, 1, 6, 1]) / 16)
    # After the update the learner's weighted error is exactly chance, 1 - q: the next one must do better.
    assert float(np.dot(result.next_weights, ERRORS)) == pytest.approx(token_chance_error(Q))


def test_window_one_smooths_within_each_answer_only():
    smoothed = smooth_token_errors(ERRORS, ANSWERS, window=1)
    # answer 0: means of (0, 1) at both ends; answer 1: (0, 0), (0, 0, 1), (0, 1); answer 2: (0).
    # Answer 0's last error does not reach answer 1's first token.
    assert smoothed == pytest.approx([1 / 2, 1 / 2, 0, 1 / 3, 1 / 2, 0])
    updated = update_token_weights(ANSWERS.uniform_weights(), ERRORS, math.log(6), ANSWERS, window=1)
    raw = np.array([6**0.5, 6**0.5, 1, 6 ** (1 / 3), 6**0.5, 1])
    assert updated == pytest.approx(raw / raw.sum())


def test_window_wider_than_an_answer_takes_the_answer_mean():
    assert smooth_token_errors(ERRORS, ANSWERS, window=5) == pytest.approx([1 / 2, 1 / 2, 1 / 3, 1 / 3, 1 / 3, 0])


def test_window_zero_is_the_unsmoothed_update():
    assert smooth_token_errors(ERRORS, ANSWERS, window=0) == pytest.approx(ERRORS.astype(float))


def test_the_window_moves_weight_but_not_eps_or_alpha():
    plain = boost_tokens(ANSWERS.uniform_weights(), ERRORS, ANSWERS, Q)
    smoothed = boost_tokens(ANSWERS.uniform_weights(), ERRORS, ANSWERS, Q, window=1)
    assert smoothed.eps == plain.eps and smoothed.samme == plain.samme
    assert not np.allclose(smoothed.next_weights, plain.next_weights)


@pytest.mark.parametrize("k", [2, 3, 4, 50257])
@pytest.mark.parametrize("eps", [0.0, 1e-9, 0.0009, 0.2, 0.49, 0.5, 0.7, 1.0])
def test_chance_rate_one_over_k_is_samme(eps, k):
    assert token_samme_alpha(eps, 1 / k) == samme_alpha(eps, k)


@pytest.mark.parametrize(
    ("eps", "q", "better"),
    [(0.75, 1 / 4, False), (0.7499, 1 / 4, True), (0.5, 0.5, False), (0.1, 0.9, False), (0.0999, 0.9, True)],
)
def test_better_than_chance_iff_eps_below_one_minus_q(eps, q, better):
    result = token_samme_alpha(eps, q)
    assert result.better_than_chance is better
    assert result.alpha is not None and (result.alpha > 0) is better


def test_a_chance_learner_stops_and_leaves_the_weights():
    errors = np.array([1, 1, 1, 0, 1, 1], dtype=bool)  # eps = 5/6 >= 1 - 1/2
    result = boost_tokens(ANSWERS.uniform_weights(), errors, ANSWERS, chance_rate=0.5)
    assert not result.samme.better_than_chance and result.samme.alpha == 0.0 and result.stopped
    assert result.next_weights == pytest.approx(result.weights)
    assert token_chance_stop_reason(2, result.eps, 0.5) == (
        "round 2: eps 0.833 >= 1 - q = 0.5, learner no better than chance on the answer tokens; stopped adding rounds"
    )


def test_zero_error_takes_the_whole_weight_and_stops():
    result = boost_tokens(ANSWERS.uniform_weights(), np.zeros(6, dtype=bool), ANSWERS, chance_rate=Q)
    assert result.eps == 0.0 and result.samme.alpha is None and result.samme.whole_weight
    assert result.samme.degenerate and result.stopped
    assert result.next_weights == pytest.approx(result.weights)


def test_default_chance_rate_is_one_over_the_vocabulary():
    assert vocabulary_chance_rate(32000) == 1 / 32000
    # With q = 1/V a learner stops only when it misses (almost) every token.
    assert token_samme_alpha(0.99, vocabulary_chance_rate(32000)).better_than_chance


# Two questions padded to L = 5: row 0 is prompt (2) + answer (2) + padding (1), row 1 prompt (1) + answer (3).
MASK = np.array([[0, 0, 1, 1, 0], [0, 1, 1, 1, 0]], dtype=bool)
GOLD = np.array([[7, 8, 3, 4, 0], [9, 5, 6, 2, 0]])
PREDICTED = np.array([[1, 1, 3, 0, 1], [1, 5, 6, 6, 1]])  # wrong on every prompt and padding position


def test_token_errors_score_answer_tokens_only():
    assert token_errors(PREDICTED, GOLD, MASK).tolist() == [False, True, False, False, True]


def test_answer_layout_from_a_mask_and_back():
    answers = AnswerTokens.from_mask(MASK)
    assert answers.lengths.tolist() == [2, 3]
    flat = answers.flatten(GOLD, MASK)
    assert flat.tolist() == [3, 4, 5, 6, 2]
    padded = answers.padded(flat, MASK)
    assert padded.tolist() == [[0, 0, 3, 4, 0], [0, 5, 6, 2, 0]]
    # A batch of question 1 alone, padded differently.
    assert answers.padded(flat, np.array([[0, 0, 1, 1, 1]], dtype=bool), questions=[1]).tolist() == [[0, 0, 5, 6, 2]]


def test_loss_scales_have_mean_one_per_question():
    weights = np.array([1, 6, 1, 1, 6, 1]) / 16
    assert token_loss_scales(weights, ANSWERS) == pytest.approx(3 * weights)
    assert token_loss_scales(ANSWERS.uniform_weights(), ANSWERS) == pytest.approx([1 / 2] * 6)


def _round_trip(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer) as loaded:
        return {name: loaded[name] for name in loaded.files}


def test_a_round_resumes_from_its_arrays():
    result = boost_tokens(ANSWERS.uniform_weights(), ERRORS, ANSWERS, Q, window=1)
    resumed = TokenRound.from_arrays(_round_trip(result.to_arrays()))
    assert resumed.answers.offsets.tolist() == [0, 2, 5, 6]
    assert resumed.errors.tolist() == ERRORS.tolist()
    assert (resumed.eps, resumed.samme, resumed.chance_rate, resumed.window) == (result.eps, result.samme, Q, 1)
    assert resumed.next_weights == pytest.approx(result.next_weights)


def test_a_damaged_round_is_refused():
    arrays = boost_tokens(ANSWERS.uniform_weights(), ERRORS, ANSWERS, Q).to_arrays()
    arrays["next"] = ANSWERS.uniform_weights()
    with pytest.raises(MethodError, match=re.escape("next: does not match its recomputation")):
        TokenRound.from_arrays(arrays)
    del arrays["eps"]
    with pytest.raises(MethodError, match=re.escape("arrays: lack eps (got chance_rate, errors, ")):
        TokenRound.from_arrays(arrays)


def test_a_resumed_round_needs_an_integer_window():
    arrays = boost_tokens(ANSWERS.uniform_weights(), ERRORS, ANSWERS, Q).to_arrays()
    arrays["window"] = np.asarray(1.5)
    with pytest.raises(MethodError, match=re.escape("window: must be one integer")):
        TokenRound.from_arrays(arrays)


UNIFORM = [1 / 6] * 6


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: boost_tokens([0.5, 0.5], ERRORS, ANSWERS, Q),
            "weights: must have one entry per answer token, 6 (got 2)",
        ),
        (
            lambda: boost_tokens(UNIFORM, ERRORS[:5], ANSWERS, Q),
            "errors: must have one entry per answer token, 6 (got 5)",
        ),
        (lambda: boost_tokens([0.5, 0.5, 0.5, -0.5, 0, 0], ERRORS, ANSWERS, Q), "weights: must be non-negative"),
        (lambda: boost_tokens(UNIFORM, [0, 0.5, 0, 0, 1, 0], ANSWERS, Q), "errors: must be 0 or 1 per token"),
        (lambda: boost_tokens(UNIFORM, [0, 2, 0, 0, 1, 0], ANSWERS, Q), "errors: must be in [0, 1] (got min 0, max 2)"),
        (lambda: token_loss_scales([1, -1, 0, 0, 0, 0], ANSWERS), "weights: must be non-negative (got min -1)"),
        (lambda: token_loss_scales([0] * 6, ANSWERS), "weights: must not all be zero"),
        (lambda: token_errors(PREDICTED[:, :4], GOLD, MASK), "predicted_ids: must have the mask's shape (2, 5)"),
        (lambda: token_errors(PREDICTED, GOLD * 1.0, MASK), "gold_ids: must be integer token ids (got dtype float64)"),
        (lambda: token_errors(PREDICTED, GOLD, MASK.astype(int)), "mask: must be a 2-D boolean (N, L) answer mask"),
        (lambda: smooth_token_errors(ERRORS, ANSWERS, -1), "window: must be an integer >= 0 (got -1)"),
        (lambda: smooth_token_errors(ERRORS, ANSWERS, True), "window: must be an integer >= 0 (got True)"),
        (lambda: vocabulary_chance_rate(1), "vocab_size: must be an integer >= 2 (got 1)"),
        (lambda: token_samme_alpha(-0.1, Q), "eps: must be a weighted error in [0, 1] (got -0.1)"),
        (lambda: AnswerTokens.from_lengths([2, -1]), "lengths: must be one integer >= 0 per question"),
        (lambda: AnswerTokens.from_lengths([0, 0]).uniform_weights(), "answers: must hold at least one answer token"),
        (lambda: AnswerTokens(np.array([1, 2])), "offsets: must start at 0 and never decrease"),
        (lambda: AnswerTokens(np.array([0.0, 2.0])), "offsets: must be N + 1 >= 2 integers"),
        (lambda: ANSWERS.flatten(np.zeros((3, 4)), np.ones((3, 4), dtype=bool)), "mask: row 0 marks 4 answer tokens"),
        (lambda: ANSWERS.padded(UNIFORM, np.ones((2, 3), dtype=bool)), "mask: must have one row per question (3)"),
        (lambda: ANSWERS.padded(UNIFORM, MASK, questions=[0, 3]), "questions: must be indices in [0, 3) (got [0, 3])"),
    ],
)
def test_bad_input_is_refused(call, message):
    with pytest.raises(MethodError, match=re.escape(message)):
        call()


@pytest.mark.parametrize("q", [0.0, 1.0, -0.1, 1.5, float("nan"), True])
def test_chance_rate_must_be_inside_zero_one(q):
    with pytest.raises(MethodError, match=re.escape(f"chance_rate: must be a probability in (0, 1) (got {q!r})")):
        token_samme_alpha(0.2, q)


# A causal LM batch: row 0 = prompt (2 tokens) + answer (2), row 1 = prompt (1) + answer (1) + padding (2).
# The logits at position k predict token k + 1.
LABELS = torch.tensor([[2, 0, 1, 2], [1, 2, 0, 0]])
LM_MASK = torch.tensor([[False, False, True, True], [False, True, False, False]])
LN2, LN3 = math.log(2), math.log(3)
LOGITS = torch.tensor(
    [
        [
            [5.0, 0.0, 0.0],  # predicts token 1 (prompt): not scored
            [0.0, LN3, 0.0],  # predicts token 2, gold 1: right; p = 3/5
            [LN2, 0.0, 0.0],  # predicts token 3, gold 2: wrong; p = 1/4
            [0.0, 0.0, 9.0],  # predicts nothing: argmax 2 = labels[0, 3], right only if unshifted
        ],
        [
            [0.0, 0.0, LN2],  # predicts token 1, gold 2: right; p = 1/2
            [9.0, 0.0, 0.0],  # padding from here on
            [9.0, 0.0, 0.0],
            [0.0, 9.0, 0.0],
        ],
    ]
)
NLL = [math.log(5 / 3), math.log(4), math.log(2)]


def test_predictions_are_shifted_one_position_right():
    assert aligned_predictions(LOGITS).tolist() == [[-1, 0, 1, 0], [-1, 2, 0, 0]]


def test_logits_token_errors_use_the_causal_shift():
    assert logits_token_errors(LOGITS, LABELS, LM_MASK).tolist() == [False, True, False]


def test_per_token_nll_by_hand():
    torch.testing.assert_close(per_token_nll(LOGITS, LABELS, LM_MASK), torch.tensor(NLL))


def test_token_weighted_nll_by_hand():
    # Weights off the answer tokens (prompt, padding) are ignored; the batch normalises by its own sum.
    weights = torch.tensor([[5.0, -5.0, 1.0, 3.0], [5.0, 2.0, 5.0, math.nan]])
    expected = (1 * NLL[0] + 3 * NLL[1] + 2 * NLL[2]) / 6
    torch.testing.assert_close(token_weighted_nll(LOGITS, LABELS, weights, LM_MASK), torch.tensor(expected))


def test_token_weighted_nll_of_all_zero_weights_is_zero_not_nan():
    assert token_weighted_nll(LOGITS, LABELS, torch.zeros(2, 4), LM_MASK).item() == 0.0


def test_scaled_token_nll_divides_by_the_questions():
    answers = AnswerTokens.from_mask(LM_MASK.numpy())
    weights = np.array([1.0, 3.0, 2.0]) / 6
    scales = torch.from_numpy(answers.padded(token_loss_scales(weights, answers), LM_MASK.numpy()))
    expected = float(2 * weights[0] * NLL[0] + 2 * weights[1] * NLL[1] + 2 * weights[2] * NLL[2]) / 2
    torch.testing.assert_close(scaled_token_nll(LOGITS, LABELS, scales, LM_MASK, batch_size=2), torch.tensor(expected))
    # With every question in one batch it is the token-weighted loss itself.
    padded_weights = torch.from_numpy(answers.padded(weights, LM_MASK.numpy()))
    torch.testing.assert_close(
        scaled_token_nll(LOGITS, LABELS, scales, LM_MASK, batch_size=2),
        token_weighted_nll(LOGITS, LABELS, padded_weights, LM_MASK),
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: aligned_predictions(LOGITS[0]), "logits: must be (B, L, V) with L >= 1 (got shape (4, 3))"),
        (lambda: per_token_nll(LOGITS, LABELS[:, :3], LM_MASK), "labels: must be (B, L) = (2, 4) like the logits"),
        (
            lambda: per_token_nll(LOGITS, LABELS, LM_MASK[:1]),
            "mask: must be (B, L) = (2, 4) like the logits (got (1, 4))",
        ),
        (lambda: per_token_nll(LOGITS, LABELS, LM_MASK.long()), "mask: must be boolean (got torch.int64)"),
        (lambda: per_token_nll(LOGITS, LABELS.float(), LM_MASK), "labels: must be integer token ids"),
        (
            lambda: logits_token_errors(LOGITS, LABELS, torch.ones(2, 4, dtype=torch.bool)),
            "mask: must be False at position 0, which no logits predict (got True)",
        ),
        (
            lambda: token_weighted_nll(LOGITS, LABELS, torch.ones(2, 3), LM_MASK),
            "weights: must be (B, L) = (2, 4) like the logits (got (2, 3))",
        ),
        (
            lambda: token_weighted_nll(LOGITS, LABELS, torch.tensor([[0, 0, 1, -1], [0, 1, 0, 0.0]]), LM_MASK),
            "weights: must be finite and >= 0 on the answer tokens (got a negative or non-finite one)",
        ),
        (
            lambda: scaled_token_nll(LOGITS, LABELS, torch.tensor([[0, 0, 1, 1], [0, math.nan, 0, 0]]), LM_MASK, 2),
            "scales: must be finite and >= 0 on the answer tokens",
        ),
        (
            lambda: scaled_token_nll(LOGITS, LABELS, torch.ones(2, 4), LM_MASK, batch_size=0),
            "batch_size: must be > 0 questions (got 0)",
        ),
    ],
)
def test_bad_batches_are_refused(call, message):
    with pytest.raises(MethodError, match=re.escape(message)):
        call()


def test_positions_are_the_flat_indices_of_the_chosen_questions_in_order() -> None:
    answers = AnswerTokens.from_lengths([2, 0, 3])
    assert answers.positions([2, 0]).tolist() == [2, 3, 4, 0, 1]
    assert answers.positions([1]).tolist() == []
