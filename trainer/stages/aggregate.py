"""Stage ``aggregate``: alphas, every prefix ensemble's accuracy and val Brier score, r chosen on val, pseudo-labels.

Reads only the learners' saved probabilities (no model is loaded): cheap, CPU.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from ensemw2s.spec import RoundSelection

from ..method import BoostingSummary, CombineMethod, accuracy, soft_pseudo_labels, summarise_boosting
from ..method.aggregation import ensemble_scores
from .context import StageContext, StageResult
from .prepared import PreparedData
from .weak import PREDICTIONS_FILE, ROUND_FILE

AGGREGATE_FILE = "aggregate.json"
ENSEMBLE_FILE = "ensemble.npz"


def boosting_to_json(boosting: BoostingSummary, stop_reason: str | None) -> dict[str, Any]:
    return {
        "rounds": [r.model_dump(mode="json") for r in boosting.rounds],
        "prefix": [p.model_dump(mode="json") for p in boosting.prefix],
        "chosenRound": boosting.chosen_round,
        "notes": boosting.notes,
        "stopReason": stop_reason,
    }


def boosting_from_json(data: dict[str, Any]) -> tuple[BoostingSummary, str | None]:
    from ensemw2s.spec.results import PrefixAccuracy, RoundSummary

    summary = BoostingSummary(
        rounds=[RoundSummary.model_validate(r) for r in data["rounds"]],
        prefix=[PrefixAccuracy.model_validate(p) for p in data["prefix"]],
        chosen_round=int(data["chosenRound"]),
        notes=list(data["notes"]),
    )
    return summary, data.get("stopReason")


def run(context: StageContext) -> StageResult:
    spec = context.spec
    data = PreparedData(context.prepared())
    records = [context.weak_round(t).read_json(ROUND_FILE) for t in range(spec.weak.rounds)]
    kept = [r for r in records if r["active"]]
    stop_reason = next((r["reason"] for r in records if not r["active"]), None)
    if not kept:
        raise ValueError(f"no usable weak learner: {stop_reason}; give the weak model more training or data")
    preds = [context.weak_round(r["round"]).read_arrays(PREDICTIONS_FILE) for r in kept]
    stacked = {name: np.stack([p[name] for p in preds]) for name in ("val", "hard_train", "hard_test")}
    alphas: list[float | None] = [r["alpha"] for r in kept]
    method = CombineMethod(spec.ensemble.combine.value)
    boosting = summarise_boosting(
        [r["eps"] for r in kept],
        alphas,
        stacked["val"],
        data.labels["val"],
        stacked["hard_test"],
        data.labels["hard_test"],
        method,
    )
    if spec.ensemble.round_selection is RoundSelection.LAST:
        boosting = dataclasses.replace(boosting, chosen_round=len(kept))
    r = boosting.chosen_round
    soft_hard_train = soft_pseudo_labels(stacked["hard_train"], alphas, r, method)
    hard_test_scores = ensemble_scores(stacked["hard_test"], alphas, r, method)
    context.workspace.write_arrays(ENSEMBLE_FILE, hard_train=soft_hard_train, hard_test=hard_test_scores)
    context.workspace.write_json(AGGREGATE_FILE, boosting_to_json(boosting, stop_reason))
    return StageResult(
        metrics={
            "chosenRound": float(r),
            "learners": float(len(kept)),
            "weakAccuracy": boosting.rounds[0].hard_test_accuracy,
            "weakEnsembleAccuracy": accuracy(hard_test_scores, data.labels["hard_test"]),
            "pseudoLabelAccuracy": accuracy(soft_hard_train, data.labels["hard_train"]),
        },
        notes=[*boosting.notes, *([stop_reason] if stop_reason else [])],
    )
