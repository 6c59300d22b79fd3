"""Means over seeds, PGRs with intervals, and the assembled `ExperimentResults`."""

from __future__ import annotations

from collections.abc import Sequence

from ensemw2s.spec.results import Accuracies, ExperimentResults, Metric, PGRIntervals, PGRs, SeedResults
from ensemw2s.trainer.method.effects import summarise_effects
from ensemw2s.trainer.method.errors import MethodError
from ensemw2s.trainer.method.intervals import HardTestOutcomes
from ensemw2s.trainer.method.pgr import pgrs_with_intervals


def mean_accuracies(seeds: Sequence[SeedResults]) -> Accuracies:
    """Each accuracy averaged over the seeds that measured it (None where none did)."""
    _require_seeds(seeds)
    means: dict[str, float | None] = {}
    for name in Accuracies.model_fields:
        values = [getattr(seed.accuracies, name) for seed in seeds]
        present = [value for value in values if value is not None]
        means[name] = sum(present) / len(present) if present else None
    return Accuracies.model_validate(means)


def experiment_results(
    experiment: str,
    seeds: Sequence[SeedResults],
    outcomes: Sequence[HardTestOutcomes] | None = None,
    *,
    weak_model: str | None = None,
    strong_model: str | None = None,
    notes: Sequence[str] = (),
    metric: Metric = Metric.ACCURACY,
) -> ExperimentResults:
    """All seeds of one experiment with their effects, mean accuracies, PGRs and intervals.

    ``outcomes`` (one per seed, same order) give each seed's PGRs with item-bootstrap intervals and the
    mean PGRs with a seed-and-item bootstrap. The mean PGR is the PGR of the mean accuracies, not a mean
    of per-seed PGRs (one seed whose ceiling is barely above its supervisor would dominate such a mean).
    Without outcomes no PGR is reported: whether a gap is above the noise cannot be known.
    """
    _require_seeds(seeds)
    mean_pgr, mean_interval = PGRs(), PGRIntervals()
    if outcomes is not None:
        if len(outcomes) != len(seeds):
            raise MethodError(
                f"outcomes: must hold one entry per seed ({len(seeds)}) (got {len(outcomes)}); pair them by seed"
            )
        seeds = [_with_pgrs(seed, outcome) for seed, outcome in zip(seeds, outcomes, strict=True)]
        mean_pgr, mean_interval = pgrs_with_intervals(outcomes)
    return ExperimentResults(
        experiment=experiment,
        metric=metric,
        weak_model=weak_model,
        strong_model=strong_model,
        seeds=list(seeds),
        effects=summarise_effects(seeds),
        mean=mean_accuracies(seeds),
        mean_pgr=mean_pgr,
        mean_pgr_interval=mean_interval,
        notes=[*experiment_notes(seeds), *notes],
    )


def experiment_notes(seeds: Sequence[SeedResults]) -> list[str]:
    """Plain-language notes about the experiment as a whole: when its comparisons cannot say much."""
    notes: list[str] = []
    if len(seeds) == 1:
        notes.append(
            "one seed: the effects have no interval over seeds; list 5 or more seeds in spec.seeds for a verdict"
        )
    if all(seed.chosen_round == 1 and len(seed.prefix) > 1 for seed in seeds):
        notes.append(
            "val chose r = 1 in every seed: the weak ensemble is round 0, so EnsemW2S and W2S learn the same "
            "labels and the ensemble's effects are ties; later learners did not improve the ensemble on "
            "easy-side data. spec.ensemble.roundSelection: last shows what the whole ensemble does"
        )
    return notes


def _with_pgrs(seed: SeedResults, outcomes: HardTestOutcomes) -> SeedResults:
    pgr, interval = pgrs_with_intervals([outcomes])
    return seed.model_copy(update={"pgr": pgr, "pgr_interval": interval})


def _require_seeds(seeds: Sequence[SeedResults]) -> None:
    if not seeds:
        raise MethodError("seeds: must hold the results of at least one seed (got 0); run a seed first")
