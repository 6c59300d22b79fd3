"""The effects the product reports: strict comparisons of hard-test accuracies, paired over seeds.

1. ``weak ensemble > single weak``: the boosted ensemble beats round 0.
2. ``W2S > weak``: the W2S student beats its supervisor (round 0).
3. ``EnsemW2S > weak ensemble``: the EnsemW2S student beats its supervisor (the ensemble).
4. ``EnsemW2S > W2S``: the ensemble's student beats the single weak model's student.

Each is the mean paired difference over seeds with a 95% paired-t interval, and the count of seeds
where it is strictly better, tied or worse: a tie is never counted as the effect. A seed counts only
when it has both accuracies the effect compares.
"""

from __future__ import annotations

from collections.abc import Sequence

from ensemw2s.spec.results import Effect, SeedResults
from ensemw2s.spec.results_text import NOT_MEASURED, format_difference
from ensemw2s.trainer.method.intervals import paired_difference

WEAK_ENSEMBLE_BEATS_WEAK = "weak ensemble > single weak"
W2S_BEATS_WEAK = "W2S > weak"
ENSEMW2S_BEATS_ENSEMBLE = "EnsemW2S > weak ensemble"
ENSEMW2S_BEATS_W2S = "EnsemW2S > W2S"

EFFECTS: tuple[tuple[str, str, str], ...] = (
    (WEAK_ENSEMBLE_BEATS_WEAK, "weak", "weak_ensemble"),
    (W2S_BEATS_WEAK, "weak", "w2s"),
    (ENSEMW2S_BEATS_ENSEMBLE, "weak_ensemble", "ensemw2s"),
    (ENSEMW2S_BEATS_W2S, "w2s", "ensemw2s"),
)
"""(name, before, after): ``after`` is claimed to beat ``before`` (`Accuracies` field names)."""


def summarise_effects(seeds: Sequence[SeedResults]) -> list[Effect]:
    """Every effect of `EFFECTS` over the seeds that measured both of its accuracies."""
    return [_effect(name, before, after, seeds) for name, before, after in EFFECTS]


def _effect(name: str, before: str, after: str, seeds: Sequence[SeedResults]) -> Effect:
    pairs: list[tuple[float, float]] = []
    for seed in seeds:
        first, second = getattr(seed.accuracies, before), getattr(seed.accuracies, after)
        if first is not None and second is not None:
            pairs.append((float(first), float(second)))
    better = sum(b > a for a, b in pairs)
    ties = sum(b == a for a, b in pairs)
    if not pairs:
        return Effect(name=name, better=0, ties=0, worse=0, of=0, detail=NOT_MEASURED)
    difference = paired_difference([a for a, _ in pairs], [b for _, b in pairs])
    mean_before = sum(a for a, _ in pairs) / len(pairs)
    mean_after = sum(b for _, b in pairs) / len(pairs)
    return Effect(
        name=name,
        better=better,
        ties=ties,
        worse=len(pairs) - better - ties,
        of=len(pairs),
        difference=difference,
        detail=f"{format_difference(difference)} ({mean_before:.3f} -> {mean_after:.3f})",
    )
