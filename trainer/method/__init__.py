"""The EnsemW2S method's math (numpy only, no torch): SAMME boosting, ensembles, PGR, effects."""

from ensemw2s.spec import CombineMethod
from ensemw2s.trainer.method.aggregation import (
    choose_rounds,
    combine_method,
    ensemble_scores,
    hard_pseudo_labels,
    prefix_ensemble_accuracy,
    soft_pseudo_labels,
)
from ensemw2s.trainer.method.boosting import (
    DEGENERATE_EPS,
    EPS_FLOOR,
    SammeAlpha,
    chance_error,
    chance_stop_reason,
    degenerate_note,
    learner_errors,
    resample_indices,
    samme_alpha,
    uniform_weights,
    update_weights,
    weighted_error,
)
from ensemw2s.trainer.method.effects import (
    ENSEMW2S_MATCHES_W2S,
    STUDENTS_BEAT_SUPERVISORS,
    WEAK_ENSEMBLE_BEATS_WEAK,
    summarise_effects,
)
from ensemw2s.trainer.method.errors import MethodError
from ensemw2s.trainer.method.pgr import MIN_GAP, accuracy, format_pgr, performance_gap_recovered, pgrs_for
from ensemw2s.trainer.method.rounds import BoostingSummary, seed_results, summarise_boosting
from ensemw2s.trainer.method.summary import experiment_results, mean_accuracies, mean_pgrs

__all__ = [
    "DEGENERATE_EPS",
    "ENSEMW2S_MATCHES_W2S",
    "EPS_FLOOR",
    "MIN_GAP",
    "STUDENTS_BEAT_SUPERVISORS",
    "WEAK_ENSEMBLE_BEATS_WEAK",
    "BoostingSummary",
    "CombineMethod",
    "MethodError",
    "SammeAlpha",
    "accuracy",
    "chance_error",
    "chance_stop_reason",
    "choose_rounds",
    "combine_method",
    "degenerate_note",
    "ensemble_scores",
    "experiment_results",
    "format_pgr",
    "hard_pseudo_labels",
    "learner_errors",
    "mean_accuracies",
    "mean_pgrs",
    "performance_gap_recovered",
    "pgrs_for",
    "prefix_ensemble_accuracy",
    "resample_indices",
    "samme_alpha",
    "seed_results",
    "soft_pseudo_labels",
    "summarise_boosting",
    "summarise_effects",
    "uniform_weights",
    "update_weights",
    "weighted_error",
]
