"""Stage ``aggregate``: alphas, every prefix ensemble's accuracy and val Brier score, r chosen on val, pseudo-labels.

Reads only the learners' saved probabilities (no model is loaded): cheap, CPU.
"""

from __future__ import annotations

import numpy as np
from ensemw2s.spec import RoundSelection

from ..method import CombineMethod, accuracy, soft_pseudo_labels, summarise_boosting
from ..method.aggregation import ensemble_scores
from .context import StageContext, StageResult
from .prepared import PreparedData
from .records import AggregateRecord, LearnerRecord, RoundRecord
from .weak import PREDICTIONS_FILE, ROUND_FILE

AGGREGATE_FILE = "aggregate.json"
ENSEMBLE_FILE = "ensemble.npz"
ENSEMBLE_SPLITS = ("val", "hard_train", "hard_test")


def kept_rounds(context: StageContext) -> tuple[list[RoundRecord], list[LearnerRecord], str | None]:
    """The rounds whose learners join the ensemble, their learners, and why boosting stopped (if it did)."""
    records = [context.weak_round(t).read_model(ROUND_FILE, RoundRecord) for t in range(context.spec.weak.rounds)]
    kept = [r for r in records if r.active]
    stop_reason = next((r.stop_reason for r in records if not r.active), None)
    learners = [r.learner for r in kept if r.learner is not None]
    if not learners:
        raise ValueError(f"no usable weak learner: {stop_reason}; give the weak model more training or data")
    return kept, learners, stop_reason


def run(context: StageContext) -> StageResult:
    spec = context.spec
    data = PreparedData(context.prepared())
    kept, learners, stop_reason = kept_rounds(context)
    preds = [context.weak_round(r.round).read_arrays(PREDICTIONS_FILE, *ENSEMBLE_SPLITS) for r in kept]
    stacked = {name: np.stack([p[name] for p in preds]) for name in ENSEMBLE_SPLITS}
    alphas: list[float | None] = [learner.alpha for learner in learners]
    method = CombineMethod(spec.ensemble.combine.value)
    boosting = summarise_boosting(
        [learner.eps for learner in learners],
        alphas,
        stacked["val"],
        data.labels["val"],
        stacked["hard_test"],
        data.labels["hard_test"],
        method,
    )
    if spec.ensemble.round_selection is RoundSelection.LAST:
        boosting = boosting.model_copy(update={"chosen_round": len(kept)})
    r = boosting.chosen_round
    soft_hard_train = soft_pseudo_labels(stacked["hard_train"], alphas, r, method)
    hard_test_scores = ensemble_scores(stacked["hard_test"], alphas, r, method)
    context.workspace.write_arrays(ENSEMBLE_FILE, hard_train=soft_hard_train, hard_test=hard_test_scores)
    context.workspace.write_model(AGGREGATE_FILE, AggregateRecord(boosting=boosting, stop_reason=stop_reason))
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
