"""Stage ``weak --round t`` of ``task: generation``: one round of token-level AdaBoost.

Trains a fresh weak causal LM on the easy answers under the round's token weights (round 0: plain mean
answer-token NLL, the single weak model a user would train and the W2S supervisor), measures its token
errors under teacher forcing (out of sample by default), computes eps_t, alpha_t with the chance rate q
and the next round's token weights (``token_weights.npz``: a later round resumes from it). The learner
is stored (``learner/``: the whole model, or its LoRA adapters) for ensemble decoding. It answers val
and hard-test on its own (round 0 also hard-train: the W2S student's labels) and records the
probability it gives each val gold token, from which ``aggregate`` scores every prefix ensemble.
"""

from __future__ import annotations

from typing import Any

from ensemw2s.spec import EnsembleMethod

from ...method.boosting import degenerate_note, whole_weight_stop_reason
from ...method.ensemble_decoding import EnsembleLearner
from ...method.token_boosting import TokenRound, boost_tokens, token_chance_stop_reason, vocabulary_chance_rate
from ...training import teacher_forced
from ..context import StageContext, StageResult
from ..records import LearnerRecord, RoundRecord
from ..weak import ROUND_FILE, previous_round, round_seed, skip_if_stopped
from .decoding import answer_texts, decoding_settings, exact_matches
from .learner import train_and_score
from .prepared import PreparedQuestionData
from .records import GeneratedAnswers

TOKEN_WEIGHTS_FILE = "token_weights.npz"
SCORES_FILE = "scores.npz"
"""val_correct, hard_test_correct (bool per question), val_gold_probabilities (per val answer token)."""
ANSWERS_FILE = "answers.json"
LEARNER_DIR = "learner"


def run(context: StageContext) -> StageResult:
    spec, seed = context.spec, context.seed
    round_ = context.stage.round
    assert round_ is not None
    data = PreparedQuestionData(context.prepared())
    answers = data.answers("easy").answers
    bagging = spec.ensemble.method is EnsembleMethod.BAGGING
    weights = None
    previous = previous_round(context, bagging)
    if previous is not None:
        skipped = skip_if_stopped(context, previous)
        if skipped is not None:
            return skipped
        weights = TokenRound.from_arrays(previous.read_arrays(TOKEN_WEIGHTS_FILE)).next_weights
    context.progress.stage_started(context.stage.name, f"training weak learner {round_ + 1}/{spec.weak.rounds}")
    total = {"steps": 0}

    def on_progress(event: Any) -> None:
        total["steps"] = int(getattr(event, "total_steps", 0) or total["steps"])
        context.progress.advance(context.stage.name, int(getattr(event, "step", 0)), total["steps"], "")

    scored = train_and_score(
        spec, data, round_seed(seed, round_), weights, context.workspace.checkpoints, on_progress, base_seed=seed
    )
    learner = scored.learner
    scored.learner.save(context.workspace.directory / LEARNER_DIR)
    settings = spec.generation_settings
    chance_rate = settings.chance_rate or vocabulary_chance_rate(len(learner.tokenizer))
    uniform = answers.uniform_weights() if weights is None else weights
    boosted = boost_tokens(uniform, scored.errors, answers, chance_rate, settings.window)
    samme = boosted.samme
    notes: list[str] = []
    active, reason = True, None
    alpha: float | None
    if bagging:
        alpha = 1.0
    elif not samme.better_than_chance and round_ > 0:
        active, reason, alpha = False, token_chance_stop_reason(round_, boosted.eps, chance_rate), 0.0
        notes.append(reason)
    elif not samme.better_than_chance:
        alpha, reason = None, token_chance_stop_reason(round_, boosted.eps, chance_rate)
        notes.append(f"{reason}; round 0 is kept as the single weak supervisor")
    elif samme.alpha is None:
        alpha, reason = None, whole_weight_stop_reason(round_)
        notes.append(reason)
    else:
        alpha = samme.alpha
    if samme.degenerate and not bagging and samme.alpha is not None:
        notes.append(degenerate_note(round_))
    context.progress.stage_started(context.stage.name, "answering val and hard-test")
    decoding = decoding_settings(spec, spec.weak.training)
    alone = [EnsembleLearner(context.stage.name, learner.model, learner.tokenizer, None)]
    splits = ("val", "hard_test", "hard_train") if round_ == 0 else ("val", "hard_test")
    texts = {name: answer_texts(alone, data.answers(name).prompt_ids(), decoding) for name in splits}
    correct = {name: exact_matches(data.questions[name], texts[name]) for name in ("val", "hard_test")}
    gold = teacher_forced(learner.model, data.answers("val"), spec.weak.training.eval_batch_size)
    record = LearnerRecord(
        eps=boosted.eps,
        alpha=alpha,
        error_estimate=spec.weak.error_estimate,
        degenerate=samme.degenerate,
        val_accuracy=float(correct["val"].mean()),
        hard_test_accuracy=float(correct["hard_test"].mean()),
        easy_accuracy=float(1.0 - scored.own_errors.mean()),
        easy_error_rate=float(scored.errors.mean()),
    )
    context.workspace.write_arrays(TOKEN_WEIGHTS_FILE, **boosted.to_arrays())
    context.workspace.write_arrays(
        SCORES_FILE,
        val_correct=correct["val"],
        hard_test_correct=correct["hard_test"],
        val_gold_probabilities=gold.gold_probabilities,
    )
    context.workspace.write_model(ANSWERS_FILE, GeneratedAnswers(**texts))
    context.workspace.write_model(
        ROUND_FILE, RoundRecord(round=round_, active=active, stop_reason=reason, learner=record, notes=notes)
    )
    metrics = {
        "eps": record.eps,
        "valAccuracy": record.val_accuracy,  # exact match, under classification's metric names
        "hardTestAccuracy": record.hard_test_accuracy,
        "easyAccuracy": record.easy_accuracy,  # share of easy answer tokens right under teacher forcing
        "chanceRate": chance_rate,
    }
    if alpha is not None:
        metrics["alpha"] = float(alpha)
    return StageResult(metrics=metrics, notes=notes)
