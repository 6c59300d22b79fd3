"""Uncertainty of every reported number: paired differences over seeds, PGR by bootstrap, chance levels.

- An effect (``after`` beats ``before``) is the mean paired difference over seeds with a 95% paired-t
  interval (t quantiles exact to 4 digits up to 30 degrees of freedom, Cornish-Fisher beyond).
- A PGR's interval is a percentile bootstrap that resamples hard-test items (paired: every model is
  scored on the same resampled items); for the mean over seeds it also resamples seeds. The bootstrap's
  seed is fixed, so the same predictions give the same interval on every machine.
- A PGR is n/a when the ceiling-supervisor gap is not above the test set's noise: the gap's own bootstrap
  interval reaches 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ensemw2s.spec.results import Interval
from ensemw2s.trainer.method.errors import MethodError

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 2410_04571
"""Fixed: an interval is a function of the predictions, not of the run."""
_Z_975 = 1.959963984540054
_T_975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip
_ONE_SIDED_Z_95 = 1.6448536269514722


def t_quantile_975(degrees_of_freedom: int) -> float:
    """The 0.975 quantile of Student's t: the half-width factor of a two-sided 95% interval."""
    if degrees_of_freedom < 1:
        raise MethodError(f"degrees_of_freedom: must be >= 1 (got {degrees_of_freedom}); an interval needs 2 seeds")
    if degrees_of_freedom <= len(_T_975):
        return _T_975[degrees_of_freedom - 1]
    z, df = _Z_975, float(degrees_of_freedom)
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def paired_difference(before: Sequence[float], after: Sequence[float]) -> Interval:
    """Mean of after_s - before_s over seeds with its 95% paired-t interval (no interval for one seed)."""
    if len(before) != len(after) or not before:
        raise MethodError(
            f"before, after: must hold one accuracy per seed each (got {len(before)} and {len(after)}); "
            "pair them by seed"
        )
    differences = np.asarray(after, dtype=np.float64) - np.asarray(before, dtype=np.float64)
    mean = float(differences.mean())
    if differences.size < 2:
        return Interval(estimate=mean)
    half = t_quantile_975(differences.size - 1) * float(differences.std(ddof=1)) / math.sqrt(differences.size)
    return Interval(estimate=mean, low=mean - half, high=mean + half)


def mean_interval(values: Sequence[float]) -> Interval:
    """Mean over seeds with its 95% t interval (no interval for one seed)."""
    return paired_difference([0.0] * len(values), values)


@dataclass(frozen=True)
class HardTestOutcomes:
    """One seed's hard-test outcome: for each model (an `Accuracies` field name), which items it got right."""

    correct: Mapping[str, npt.NDArray[np.bool_]]

    def __post_init__(self) -> None:
        sizes = {name: np.asarray(values).shape for name, values in self.correct.items()}
        if len(set(sizes.values())) > 1:
            raise MethodError(f"correct: every model must be scored on the same items (got shapes {sizes})")

    def accuracy(self, model: str) -> float:
        return float(np.mean(self.correct[model]))


@dataclass(frozen=True)
class PGREstimate:
    """A PGR and its interval; both ``None`` when the ceiling-supervisor gap is inside the noise."""

    value: float | None
    interval: Interval | None


def pgr_estimate(seeds: Sequence[HardTestOutcomes], student: str, supervisor: str, ceiling: str) -> PGREstimate:
    """PGR = (student - supervisor) / (ceiling - supervisor) of the mean accuracies over ``seeds``.

    Its 95% interval is a percentile bootstrap over seeds (when there are several) and hard-test items.
    n/a when the gap ceiling - supervisor has a bootstrap interval that reaches 0, or a model is missing.
    """
    return MeanAccuracySamples.draw(seeds).pgr(student, supervisor, ceiling)


@dataclass(frozen=True)
class MeanAccuracySamples:
    """Every model's mean accuracy over seeds, and its paired bootstrap samples (one draw for all PGRs)."""

    means: Mapping[str, float]
    samples: Mapping[str, npt.NDArray[np.float64]]
    """Model -> mean accuracy in each of the B resamples (the same resampled items for every model)."""

    @classmethod
    def draw(cls, seeds: Sequence[HardTestOutcomes]) -> MeanAccuracySamples:
        if not seeds:
            raise MethodError("seeds: must hold at least one seed's outcomes (got 0)")
        names = [name for name in seeds[0].correct if all(name in seed.correct for seed in seeds)]
        means = {name: float(np.mean([seed.accuracy(name) for seed in seeds])) for name in names}
        drawn = _bootstrap_mean_accuracies(seeds, names) if names else np.zeros((0, BOOTSTRAP_RESAMPLES))
        return cls(means, dict(zip(names, drawn, strict=True)))

    def pgr(self, student: str, supervisor: str, ceiling: str) -> PGREstimate:
        """The PGR of ``student`` over ``supervisor`` with its interval (see `pgr_estimate`)."""
        if any(name not in self.means for name in (student, supervisor, ceiling)):
            return PGREstimate(None, None)
        gaps = self.samples[ceiling] - self.samples[supervisor]
        gap = self.means[ceiling] - self.means[supervisor]
        if gap <= 0 or float(np.quantile(gaps, (1 - CONFIDENCE) / 2)) <= 0:
            return PGREstimate(None, None)
        value = (self.means[student] - self.means[supervisor]) / gap
        usable = gaps > 0
        ratios = (self.samples[student][usable] - self.samples[supervisor][usable]) / gaps[usable]
        low, high = (float(q) for q in np.quantile(ratios, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2]))
        return PGREstimate(value, Interval(estimate=value, low=low, high=high))


def above_chance(correct: npt.ArrayLike, labels: npt.ArrayLike) -> bool:
    """The accuracy is significantly above always answering the most common class (one-sided 5%)."""
    right = np.asarray(correct, dtype=np.float64)
    gold = np.asarray(labels)
    if right.size == 0 or right.shape != gold.shape:
        raise MethodError(
            f"correct: must have one entry per label (got {right.shape} for labels {gold.shape}); pass both"
        )
    majority = float(np.max(np.unique(gold, return_counts=True)[1])) / gold.size
    if majority >= 1.0:
        return False
    standard_error = math.sqrt(majority * (1 - majority) / gold.size)
    return float(right.mean()) > majority + _ONE_SIDED_Z_95 * standard_error


def _bootstrap_mean_accuracies(seeds: Sequence[HardTestOutcomes], names: Sequence[str]) -> npt.NDArray[np.float64]:
    """Bootstrap samples of the mean accuracy over seeds of each model, shape (len(names), B), paired."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    count = len(seeds)
    chosen = rng.integers(0, count, size=(BOOTSTRAP_RESAMPLES, count)) if count > 1 else None
    totals = np.zeros((len(names), BOOTSTRAP_RESAMPLES))
    stacked = [np.stack([np.asarray(seed.correct[name], dtype=np.float64) for name in names]) for seed in seeds]
    for column in range(count):
        seed_of = np.full(BOOTSTRAP_RESAMPLES, column) if chosen is None else chosen[:, column]
        for index, correct in enumerate(stacked):
            rows = np.flatnonzero(seed_of == index)
            if rows.size == 0:
                continue
            items = rng.integers(0, correct.shape[1], size=(rows.size, correct.shape[1]))
            totals[:, rows] += correct[:, items].mean(axis=-1)
    samples: npt.NDArray[np.float64] = totals / count
    return samples
