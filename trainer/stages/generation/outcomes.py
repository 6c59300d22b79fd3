"""What the report stage reads of a generation seed: which hard-test questions each model answered exactly."""

from __future__ import annotations

import numpy as np
from ensemw2s.spec import StrongVariant

from ...method import HardTestOutcomes
from ..context import StageContext
from .aggregate import ENSEMBLE_SCORES_FILE
from .strong import STUDENT_SCORES_FILE
from .weak import SCORES_FILE

CORRECT = "hard_test_correct"


def generation_outcomes(context: StageContext, seed: int, students: dict[StrongVariant, str]) -> HardTestOutcomes:
    """Exact match per hard-test question of round 0, the chosen ensemble and each trained student.

    ``students`` maps each trained variant to its `Accuracies` field.
    """
    correct = {
        "weak": context.weak_round(0, seed).read_arrays(SCORES_FILE, CORRECT)[CORRECT],
        "weak_ensemble": context.aggregated(seed).read_arrays(ENSEMBLE_SCORES_FILE, CORRECT)[CORRECT],
    }
    for variant, field in students.items():
        correct[field] = context.strong(variant, seed).read_arrays(STUDENT_SCORES_FILE, CORRECT)[CORRECT]
    return HardTestOutcomes({name: np.asarray(values, dtype=bool) for name, values in correct.items()})


def generation_notes(context: StageContext, seed: int, outcomes: HardTestOutcomes) -> list[str]:
    """Plain-language notes when this seed cannot answer the question the experiment asks."""
    spec = context.spec
    notes: list[str] = []
    weak_val = context.weak_round(0, seed).read_arrays(SCORES_FILE, "val_correct")["val_correct"]
    if not np.any(weak_val):
        notes.append(
            "round 0 (the single weak model) answers no easy val question exactly: the weak model did not learn "
            "the easy task, so there is nothing for boosting or the students to build on; raise "
            "spec.weak.training.epochs or learningRate, or spec.dataset.sizes.easy"
        )
    if "ceiling" in outcomes.correct and not np.any(outcomes.correct["ceiling"]):
        notes.append(
            "the ceiling (the strong model fine-tuned on gold hard answers) answers no hard-test question exactly: "
            "the strong model did not learn the hard task with this budget, so no PGR can be read; raise "
            f"spec.strong.training.epochs (now {spec.strong.training.epochs:g}) or learningRate "
            f"(now {spec.strong.training.learning_rate:g}), or spec.dataset.sizes.hardTrain"
        )
    return notes
