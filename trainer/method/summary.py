"""Means over seeds and the assembled `ExperimentResults`."""

from __future__ import annotations

from collections.abc import Sequence

from ensemw2s.spec.results import Accuracies, ExperimentResults, PGRs, SeedResults
from ensemw2s.trainer.method.effects import summarise_effects
from ensemw2s.trainer.method.errors import MethodError
from ensemw2s.trainer.method.pgr import MIN_GAP, pgrs_for


def mean_accuracies(seeds: Sequence[SeedResults]) -> Accuracies:
    """Each accuracy averaged over the seeds that measured it (None where none did)."""
    _require_seeds(seeds)
    means: dict[str, float | None] = {}
    for name in Accuracies.model_fields:
        values = [getattr(seed.accuracies, name) for seed in seeds]
        present = [value for value in values if value is not None]
        means[name] = sum(present) / len(present) if present else None
    return Accuracies.model_validate(means)


def mean_pgrs(seeds: Sequence[SeedResults], min_gap: float = MIN_GAP) -> PGRs:
    """The PGRs of the mean accuracies.

    Not the mean of per-seed PGRs: one seed whose ceiling is barely above its weak model would
    dominate such a mean; this way the mean row of the report can be recomputed from its own numbers.
    """
    return pgrs_for(mean_accuracies(seeds), min_gap)


def experiment_results(experiment: str, seeds: Sequence[SeedResults]) -> ExperimentResults:
    """All seeds of one experiment with their effects, mean accuracies and mean PGRs."""
    _require_seeds(seeds)
    return ExperimentResults(
        experiment=experiment,
        seeds=list(seeds),
        effects=summarise_effects(seeds),
        mean=mean_accuracies(seeds),
        mean_pgr=mean_pgrs(seeds),
    )


def _require_seeds(seeds: Sequence[SeedResults]) -> None:
    if not seeds:
        raise MethodError("seeds: must hold the results of at least one seed (got 0); run a seed first")
