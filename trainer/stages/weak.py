"""Stage ``weak --round t``: one AdaBoost round (or one bagging learner).

Trains a fresh copy of the pretrained weak model on the easy set under the round's sample weights,
scores every split, measures eps_t (out of sample by default), computes the SAMME alpha_t and the next
round's weights. Round 0 trains on every easy item with uniform weights and plain cross-entropy in
every mode (no resampling): it is the single weak model a user would train, and the W2S supervisor.
A round after boosting stopped does nothing and records why.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ensemw2s.spec import EnsembleMethod

from ..method import learner_errors, samme_alpha, update_weights, weighted_error
from ..method.boosting import chance_stop_reason, degenerate_note, uniform_weights, whole_weight_stop_reason
from ..store import StageOutput
from .context import StageContext, StageResult
from .learner import train_and_score
from .prepared import PreparedData
from .records import LearnerRecord, RoundRecord

ROUND_FILE = "round.json"
PREDICTIONS_FILE = "preds.npz"
WEIGHTS_FILE = "weights.npz"
LEARNER_DIR = "learner"
"""With ``spec.weak.lora``: the round's adapters and head (``LoadedClassifier.load`` or plain peft reads them)."""


def _accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(probs, axis=1) == labels))


def round_seed(seed: int, round_: int) -> int:
    """The training seed of round ``round_`` of the replicate ``seed``; round 0's is a standalone model's."""
    return seed * 1000 + round_


def previous_round(context: StageContext, bagging: bool) -> StageOutput | None:
    """The round this one boosts on from: None for round 0 and for bagging (every learner starts afresh)."""
    round_ = context.stage.round
    assert round_ is not None
    return None if round_ == 0 or bagging else context.weak_round(round_ - 1)


def skip_if_stopped(context: StageContext, previous: StageOutput) -> StageResult | None:
    """When boosting stopped at or before the previous round, record this round as skipped and say why."""
    before = previous.read_model(ROUND_FILE, RoundRecord)
    if before.stop_reason is None:
        return None
    round_ = context.stage.round
    assert round_ is not None
    context.workspace.write_model(ROUND_FILE, RoundRecord(round=round_, active=False, stop_reason=before.stop_reason))
    return StageResult(notes=[f"round {round_}: skipped ({before.stop_reason})"])


def run(context: StageContext) -> StageResult:
    spec, seed = context.spec, context.seed
    round_ = context.stage.round
    assert round_ is not None
    data = PreparedData(context.prepared())
    n = len(data.labels["easy"])
    num_classes = data.num_classes
    bagging = spec.ensemble.method is EnsembleMethod.BAGGING
    weights = uniform_weights(n)
    previous = previous_round(context, bagging)
    if previous is not None:
        skipped = skip_if_stopped(context, previous)
        if skipped is not None:
            return skipped
        weights = previous.read_arrays(WEIGHTS_FILE, "next")["next"]
    context.progress.stage_started(context.stage.name, f"training weak learner {round_ + 1}/{spec.weak.rounds}")
    total = {"steps": 0}

    def on_progress(event: Any) -> None:
        total["steps"] = int(getattr(event, "total_steps", 0) or total["steps"])
        context.progress.advance(context.stage.name, int(getattr(event, "step", 0)), total["steps"], "")

    weighting = None if bagging or round_ == 0 else spec.weak.sample_weighting
    scored = train_and_score(
        spec,
        data,
        round_seed(seed, round_),
        weights,
        weighting,
        context.workspace.checkpoints,
        on_progress,
        base_seed=seed,
    )
    if spec.weak.lora is not None:
        scored.learner.save(context.workspace.directory / LEARNER_DIR)
    probs = scored.probs
    errors = learner_errors(scored.error_probs, data.labels["easy"])
    eps = weighted_error(weights, errors)
    samme = samme_alpha(eps, num_classes)
    notes: list[str] = []
    active = True
    reason = None
    next_weights = weights
    alpha: float | None
    if bagging:
        alpha = 1.0
    elif not samme.better_than_chance and round_ > 0:
        active, reason, alpha = False, chance_stop_reason(round_, eps, num_classes), 0.0
        notes.append(reason)
    elif not samme.better_than_chance:
        # Round 0 is the single weak supervisor of the W2S baseline: kept as the whole ensemble, but
        # boosting cannot continue from a learner at chance.
        alpha, reason = None, chance_stop_reason(round_, eps, num_classes)
        notes.append(f"{reason}; round 0 is kept as the single weak supervisor")
    elif samme.alpha is None:  # no measured error: the whole weight, and nothing left to boost
        alpha, reason = None, whole_weight_stop_reason(round_)
        notes.append(reason)
    else:
        alpha = samme.alpha
        next_weights = update_weights(weights, errors, samme.alpha)
    if samme.degenerate and not bagging and samme.alpha is not None:
        notes.append(degenerate_note(round_))
    learner = LearnerRecord(
        eps=eps,
        alpha=alpha,
        error_estimate=spec.weak.error_estimate,
        degenerate=samme.degenerate,
        val_accuracy=_accuracy(probs["val"], data.labels["val"]),
        hard_test_accuracy=_accuracy(probs["hard_test"], data.labels["hard_test"]),
        easy_accuracy=_accuracy(probs["easy"], data.labels["easy"]),
        easy_error_rate=float(np.mean(errors)),
    )
    context.workspace.write_arrays(PREDICTIONS_FILE, **probs, easy_error_probs=scored.error_probs)
    context.workspace.write_arrays(WEIGHTS_FILE, weights=weights, next=next_weights, errors=errors)
    context.workspace.write_model(
        ROUND_FILE, RoundRecord(round=round_, active=active, stop_reason=reason, learner=learner, notes=notes)
    )
    metrics = {
        "eps": learner.eps,
        "valAccuracy": learner.val_accuracy,
        "hardTestAccuracy": learner.hard_test_accuracy,
        "easyAccuracy": learner.easy_accuracy,
    }
    if alpha is not None:
        metrics["alpha"] = float(alpha)
    return StageResult(metrics=metrics, notes=notes)
