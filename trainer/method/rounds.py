"""Per-round and per-seed summaries built from the boosting outputs.

The trainer's stages call `summarise_boosting` after the weak rounds (it chooses r on val), train
the students with the chosen ensemble, then call `seed_results`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np
import numpy.typing as npt
from ensemw2s.spec import CombineMethod
from ensemw2s.spec.base import SpecModel
from ensemw2s.spec.results import Accuracies, PrefixAccuracy, RoundSummary, SeedResults
from ensemw2s.trainer.method._checks import float_array, probabilities, same_length
from ensemw2s.trainer.method.aggregation import choose_rounds, prefix_ensemble_accuracy, prefix_ensemble_brier
from ensemw2s.trainer.method.boosting import DEGENERATE_EPS, degenerate_note
from ensemw2s.trainer.method.errors import MethodError
from ensemw2s.trainer.method.pgr import accuracy
from pydantic import Field, model_validator


class BoostingSummary(SpecModel):
    """What the weak rounds of one seed measured, and the r chosen on val (the aggregate stage's record)."""

    rounds: list[RoundSummary] = Field(min_length=1, description="Each kept learner, in round order.")
    prefix: list[PrefixAccuracy] = Field(min_length=1, description="The prefix ensembles r = 1..T.")
    chosen_round: int = Field(ge=1, description="r: the prefix ensemble the students learn from.")
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _chosen_round_is_a_prefix(self) -> Self:
        if self.chosen_round > len(self.prefix):
            raise ValueError(
                f"chosenRound: must be at most the number of prefix ensembles, {len(self.prefix)} "
                f"(got {self.chosen_round})"
            )
        return self

    @property
    def weak_accuracy(self) -> float:
        """Hard-test accuracy of round 0: the single weak supervisor."""
        return float(self.rounds[0].hard_test_accuracy)

    @property
    def weak_ensemble_accuracy(self) -> float:
        """Hard-test accuracy of the chosen ensemble F_r."""
        return float(self.prefix[self.chosen_round - 1].hard_test)


def summarise_boosting(
    eps: Sequence[float],
    alphas: Sequence[float | None],
    val_probs: npt.ArrayLike,
    val_labels: npt.ArrayLike,
    hard_test_probs: npt.ArrayLike,
    hard_test_labels: npt.ArrayLike,
    method: CombineMethod = CombineMethod.PROB,
) -> BoostingSummary:
    """Round summaries, prefix accuracies r = 1..T on val and hard-test, r chosen on val's Brier score, notes.

    ``eps``/``alphas``: one per kept learner (T; an alpha of None takes the whole weight);
    ``*_probs``: shape (T, N, K).
    """
    eps_array = float_array(list(eps), "eps", ndim=1)
    alpha_list = list(alphas)
    val = probabilities(val_probs, "val_probs", ndim=3)
    test = probabilities(hard_test_probs, "hard_test_probs", ndim=3)
    num_learners = val.shape[0]
    if num_learners < 1:
        raise MethodError("val_probs: must hold at least one learner (got 0); train round 0 first")
    same_length("eps", eps_array.shape[0], num_learners, "the learners in val_probs")
    same_length("alphas", len(alpha_list), num_learners, "the learners in val_probs")
    same_length("hard_test_probs", test.shape[0], num_learners, "the learners in val_probs")
    if np.any((eps_array < 0) | (eps_array > 1)):
        raise MethodError(f"eps: must be weighted errors in [0, 1] (got {eps_array.tolist()})")
    val_prefix = prefix_ensemble_accuracy(val, alpha_list, val_labels, method)
    val_brier = prefix_ensemble_brier(val, alpha_list, val_labels, method)
    test_prefix = prefix_ensemble_accuracy(test, alpha_list, hard_test_labels, method)
    rounds: list[RoundSummary] = []
    notes: list[str] = []
    for t in range(num_learners):
        degenerate = bool(eps_array[t] < DEGENERATE_EPS)
        note = degenerate_note(t) if degenerate else None
        if note is not None:
            notes.append(note)
        rounds.append(
            RoundSummary(
                round=t,
                eps=float(eps_array[t]),
                alpha=alpha_list[t],
                val_accuracy=accuracy(val[t], val_labels),
                hard_test_accuracy=accuracy(test[t], hard_test_labels),
                degenerate=degenerate,
                note=note,
            )
        )
    prefix = [
        PrefixAccuracy(rounds=r, val=v, hard_test=h, val_brier=b)
        for r, (v, h, b) in enumerate(zip(val_prefix, test_prefix, val_brier, strict=True), start=1)
    ]
    return BoostingSummary(rounds=rounds, prefix=prefix, chosen_round=choose_rounds(val_brier), notes=notes)


def seed_results(
    seed: int,
    boosting: BoostingSummary,
    *,
    w2s: float | None,
    ensemw2s: float | None,
    ceiling: float | None,
    stop_reason: str | None = None,
    notes: Sequence[str] = (),
) -> SeedResults:
    """One seed's results: the boosting summary plus the students' and ceiling's hard-test accuracies.

    PGRs and their intervals need every model's per-item outcomes: `experiment_results` fills them in.
    """
    accuracies = Accuracies(
        weak=boosting.weak_accuracy,
        weak_ensemble=boosting.weak_ensemble_accuracy,
        w2s=w2s,
        ensemw2s=ensemw2s,
        ceiling=ceiling,
    )
    return SeedResults(
        seed=seed,
        chosen_round=boosting.chosen_round,
        stop_reason=stop_reason,
        rounds=boosting.rounds,
        prefix=boosting.prefix,
        accuracies=accuracies,
        notes=[*boosting.notes, *notes],
    )
