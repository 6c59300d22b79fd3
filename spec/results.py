"""Results of an experiment: what the trainer writes and the operator copies into a CR status.

Small, JSON-friendly models with camelCase JSON names (``model_dump(by_alias=True)``); Python code
uses the snake_case names. Accuracies are hard-test accuracies unless a field says otherwise.
``None`` means "not measured" (accuracies) or "not defined" (a PGR whose ceiling-supervisor gap is not
above the hard-test set's noise); the report prints it as ``n/a``. Every effect and PGR carries a 95%
interval (`Interval`).

``ExperimentResults.compact()`` returns a version that fits a Kubernetes termination message
(4096 bytes).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import to_camel
from .contract import TERMINATION_MESSAGE_LIMIT

_COMPACT_NOTES = 2
_COMPACT_TEXT = 160


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Count = Annotated[int, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
        alias_generator=to_camel,
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
    )


class Metric(StrEnum):
    """What every "accuracy" of a results record measures on its items."""

    ACCURACY = "accuracy"
    """Classification: the argmax class is the gold label."""
    EXACT_MATCH = "exact_match"
    """Generation: the normalised answer text equals the gold answer (or names the correct option)."""

    @property
    def label(self) -> str:
        return "accuracy" if self is Metric.ACCURACY else "exact match"


class RoundSummary(_Model):
    """One boosting round t (0-based; round 0 is the single weak supervisor)."""

    round: Count
    eps: Fraction
    """Weighted error on the easy set (out of sample with errorEstimate crossfit)."""
    alpha: float | None
    """SAMME weight; ``None`` when eps = 0: the learner takes the whole weight of every ensemble with it."""
    val_accuracy: Fraction
    hard_test_accuracy: Fraction
    """Accuracy of this single learner on hard-test."""
    degenerate: bool = False
    """eps < 1e-3 on the items it was measured on: boosting has little effect."""
    note: str | None = None


class PrefixAccuracy(_Model):
    """Accuracy of the ensemble of the first ``rounds`` learners."""

    rounds: Annotated[int, Field(ge=1)]
    val: Fraction
    hard_test: Fraction
    val_brier: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    """Brier score on val: the criterion r is chosen by in classification (lowest; ties to the larger r)."""
    val_log_loss: Annotated[float, Field(ge=0.0)] | None = None
    """Generation: mean negative log-probability of val's gold answer tokens under the prefix ensemble's
    mixture (teacher forced): the criterion r is chosen by (lowest; ties to the larger r)."""

    @property
    def val_criterion(self) -> float | None:
        """The value r was chosen by: the Brier score (classification) or the answer-token log-loss (generation)."""
        return self.val_brier if self.val_brier is not None else self.val_log_loss


class Interval(_Model):
    """An estimate with its 95% interval; ``low``/``high`` are ``None`` when none can be computed (one seed)."""

    estimate: float
    low: float | None = None
    high: float | None = None

    @property
    def excludes_zero(self) -> bool:
        """The interval lies entirely above or entirely below 0."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


class Accuracies(_Model):
    """Hard-test accuracies of the five models of an experiment."""

    weak: Fraction | None = None
    weak_ensemble: Fraction | None = None
    w2s: Fraction | None = None
    ensemw2s: Fraction | None = None
    ceiling: Fraction | None = None


class PGRs(_Model):
    """Performance gap recovered; ``None`` when the gap is inside the test set's noise or an accuracy is missing."""

    w2s_vs_weak: float | None = None
    ensemw2s_vs_weak: float | None = None
    ensemw2s_vs_ensemble: float | None = None


class PGRIntervals(_Model):
    """95% intervals of the `PGRs` (paired bootstrap over hard-test items, and over seeds for means)."""

    w2s_vs_weak: Interval | None = None
    ensemw2s_vs_weak: Interval | None = None
    ensemw2s_vs_ensemble: Interval | None = None


class SeedResults(_Model):
    """Everything measured for one seed."""

    seed: int
    chosen_round: Annotated[int, Field(ge=1)]
    """Number of learners r in the chosen ensemble, chosen on val."""
    stop_reason: str | None = None
    rounds: list[RoundSummary] = Field(default_factory=list)
    prefix: list[PrefixAccuracy] = Field(default_factory=list)
    accuracies: Accuracies = Field(default_factory=Accuracies)
    pgr: PGRs = Field(default_factory=PGRs)
    pgr_interval: PGRIntervals = Field(default_factory=PGRIntervals)
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _chosen_round_in_prefix(self) -> SeedResults:
        if self.prefix and self.chosen_round > len(self.prefix):
            raise ValueError(
                f"chosenRound: must be <= the number of prefix ensembles {len(self.prefix)} "
                f"(got {self.chosen_round}); choose r among the reported prefixes"
            )
        return self


class Effect(_Model):
    """One strict comparison of two hard-test accuracies (``after`` > ``before``), paired over seeds."""

    name: str
    better: Count
    """Seeds where ``after`` is strictly better."""
    ties: Count
    worse: Count
    of: Count
    difference: Interval | None = None
    """Mean paired difference after - before (accuracy) with a 95% paired-t interval over seeds."""
    detail: str

    @model_validator(mode="after")
    def _counts_add_up(self) -> Effect:
        if self.better + self.ties + self.worse != self.of:
            raise ValueError(
                f"of: must equal better + ties + worse = {self.better + self.ties + self.worse} (got {self.of})"
            )
        return self

    @property
    def verdict(self) -> str:
        """``holds``, ``reversed`` or ``not shown`` (the interval includes 0, or one seed)."""
        if self.difference is None or not self.difference.excludes_zero:
            return "not shown"
        return "holds" if self.difference.estimate > 0 else "reversed"


class ExperimentResults(_Model):
    """Results of all seeds of one experiment, with effects and means over seeds."""

    experiment: str
    metric: Metric = Metric.ACCURACY
    """What the accuracies measure: class accuracy (classification) or exact match (generation)."""
    weak_model: str | None = None
    strong_model: str | None = None
    seeds: list[SeedResults] = Field(default_factory=list)
    effects: list[Effect] = Field(default_factory=list)
    mean: Accuracies = Field(default_factory=Accuracies)
    mean_pgr: PGRs = Field(default_factory=PGRs)
    mean_pgr_interval: PGRIntervals = Field(default_factory=PGRIntervals)
    notes: list[str] = Field(default_factory=list)
    """Notes about the experiment as a whole (e.g. why a question cannot be answered)."""

    def to_json(self) -> str:
        """JSON with camelCase names."""
        return self.model_dump_json(by_alias=True)

    def compact(self, max_bytes: int = TERMINATION_MESSAGE_LIMIT) -> ExperimentResults:
        """A copy whose JSON fits ``max_bytes`` (best effort), for a termination message.

        Drops per-round and prefix detail and keeps at most two notes per seed; if that is still too
        big, drops the notes, then the per-seed results (effects and means stay). Numbers keep their
        full precision: rounding here and again when printed turned the report's -0.37 into -0.38.
        """
        seeds = [_compact_seed(seed, keep_notes=True) for seed in self.seeds]
        candidates = [
            seeds,
            [_compact_seed(seed, keep_notes=False) for seed in self.seeds],
            [],
        ]
        base = self.model_copy(
            update={
                "effects": [_compact_effect(effect) for effect in self.effects],
                "notes": [_shorten(note) for note in self.notes[:_COMPACT_NOTES]],
            }
        )
        compacted = base
        for candidate in candidates:
            compacted = base.model_copy(update={"seeds": candidate})
            if len(compacted.to_json().encode()) <= max_bytes:
                return compacted
        return compacted


def _shorten(text: str) -> str:
    return text if len(text) <= _COMPACT_TEXT else text[: _COMPACT_TEXT - 3] + "..."


def _compact_effect(effect: Effect) -> Effect:
    return effect.model_copy(update={"detail": _shorten(effect.detail)})


def _compact_seed(seed: SeedResults, keep_notes: bool) -> SeedResults:
    notes = [_shorten(note) for note in seed.notes[:_COMPACT_NOTES]] if keep_notes else []
    left_out = len(seed.notes) - len(notes)
    if left_out:
        notes.append(f"{left_out} more notes in report.md")
    return seed.model_copy(
        update={
            "stop_reason": None if seed.stop_reason is None else _shorten(seed.stop_reason),
            "rounds": [],
            "prefix": [],
            "pgr_interval": PGRIntervals(),
            "notes": notes,
        }
    )
