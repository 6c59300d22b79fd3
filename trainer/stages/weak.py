"""Stage ``weak --round t``: one AdaBoost round (or one bagging learner).

Trains a fresh copy of the pretrained weak model on the easy set under the round's sample weights,
scores every split, computes eps_t, the SAMME alpha_t and the next round's weights. A round after a
learner that was no better than chance does nothing and records why.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ensemw2s.spec import EnsembleMethod

from ..method import learner_errors, samme_alpha, update_weights, weighted_error
from ..method.boosting import chance_stop_reason, degenerate_note, uniform_weights
from .context import StageContext, StageResult
from .learner import train_and_score
from .prepared import NUM_CLASSES, PreparedData

ROUND_FILE = "round.json"
PREDICTIONS_FILE = "preds.npz"
WEIGHTS_FILE = "weights.npz"


def _accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(probs, axis=1) == labels))


def run(context: StageContext) -> StageResult:
    spec, seed = context.spec, context.seed
    round_ = context.stage.round
    assert round_ is not None
    data = PreparedData(context.prepared())
    n = len(data.labels["easy"])
    bagging = spec.ensemble.method is EnsembleMethod.BAGGING
    weights = uniform_weights(n)
    if round_ > 0 and not bagging:
        previous = context.weak_round(round_ - 1)
        before: dict[str, Any] = previous.read_json(ROUND_FILE)
        if before.get("stopped"):
            record = {"round": round_, "active": False, "stopped": True, "reason": before["reason"]}
            context.workspace.write_json(ROUND_FILE, record)
            return StageResult(notes=[f"round {round_}: skipped ({before['reason']})"])
        weights = previous.read_arrays(WEIGHTS_FILE)["next"]
    context.progress.stage_started(context.stage.name, f"training weak learner {round_ + 1}/{spec.weak.rounds}")
    total = {"steps": 0}

    def on_progress(event: Any) -> None:
        total["steps"] = int(getattr(event, "total_steps", 0) or total["steps"])
        context.progress.advance(context.stage.name, int(getattr(event, "step", 0)), total["steps"], "")

    weighting = None if bagging else spec.weak.sample_weighting
    probs = train_and_score(
        spec, data, seed * 1000 + round_, weights, weighting, context.workspace.checkpoints, on_progress
    )
    errors = learner_errors(probs["easy"], data.labels["easy"])
    eps = weighted_error(weights, errors)
    alpha = samme_alpha(eps, NUM_CLASSES)
    notes: list[str] = []
    active = True
    reason = None
    next_weights = weights
    if bagging:
        alpha_value = 1.0
    elif not alpha.better_than_chance and round_ > 0:
        active, reason, alpha_value = False, chance_stop_reason(round_, eps, NUM_CLASSES), 0.0
        notes.append(reason)
    elif not alpha.better_than_chance:
        # Round 0 is the single weak supervisor of the W2S baseline: kept, with the clipped alpha,
        # but boosting cannot continue from a learner at chance.
        alpha_value, reason = alpha.alpha, chance_stop_reason(round_, eps, NUM_CLASSES)
        notes.append(f"{reason}; round 0 is kept as the single weak supervisor")
    else:
        alpha_value = alpha.alpha
        next_weights = update_weights(weights, errors, alpha_value)
    if alpha.degenerate and not bagging:
        notes.append(degenerate_note(round_))
    record = {
        "round": round_,
        "active": active,
        "stopped": reason is not None,
        "reason": reason,
        "eps": eps,
        "alpha": alpha_value,
        "clippedEps": alpha.clipped_eps,
        "degenerate": alpha.degenerate,
        "valAccuracy": _accuracy(probs["val"], data.labels["val"]),
        "hardTestAccuracy": _accuracy(probs["hard_test"], data.labels["hard_test"]),
        "easyAccuracy": _accuracy(probs["easy"], data.labels["easy"]),
        "notes": notes,
    }
    context.workspace.write_arrays(PREDICTIONS_FILE, **probs)
    context.workspace.write_arrays(WEIGHTS_FILE, weights=weights, next=next_weights, errors=errors)
    context.workspace.write_json(ROUND_FILE, record)
    return StageResult(
        metrics={k: float(record[k]) for k in ("eps", "alpha", "valAccuracy", "hardTestAccuracy", "easyAccuracy")},
        notes=notes,
    )
