"""Results of an experiment: what the trainer writes and the operator copies into a CR status.

Small, JSON-friendly models with camelCase JSON names (``model_dump(by_alias=True)``); Python code
uses the snake_case names. Accuracies are hard-test accuracies unless a field says otherwise.
``None`` means "not measured" (accuracies) or "not defined" (a PGR whose gap is below 0.01); the
report prints it as ``n/a``.

``ExperimentResults.compact()`` returns a version that fits a Kubernetes termination message
(4096 bytes).
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

TERMINATION_MESSAGE_LIMIT = 4096
"""Bytes a container's termination message may hold; ``compact()`` stays under it."""

_COMPACT_DIGITS = 4
_COMPACT_NOTES = 2
_COMPACT_TEXT = 160

_M = TypeVar("_M", bound=BaseModel)


def camel_alias(name: str) -> str:
    """``w2s_vs_weak`` -> ``w2sVsWeak``.

    pydantic's ``to_camel`` title-cases after digits (``ensemw2s`` -> ``ensemw2S``), so it is not used.
    """
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Count = Annotated[int, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
        alias_generator=camel_alias,
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
    )


class RoundSummary(_Model):
    """One boosting round t (0-based; round 0 is the single weak supervisor)."""

    round: Count
    eps: Fraction
    """Weighted training error on the easy set, before clipping."""
    alpha: float
    val_accuracy: Fraction
    hard_test_accuracy: Fraction
    """Accuracy of this single learner on hard-test."""
    degenerate: bool = False
    """eps < 1e-3 on the learner's own training data: boosting has no effect."""
    note: str | None = None


class PrefixAccuracy(_Model):
    """Accuracy of the ensemble of the first ``rounds`` learners."""

    rounds: Annotated[int, Field(ge=1)]
    val: Fraction
    hard_test: Fraction


class Accuracies(_Model):
    """Hard-test accuracies of the five models of an experiment."""

    weak: Fraction | None = None
    weak_ensemble: Fraction | None = None
    w2s: Fraction | None = None
    ensemw2s: Fraction | None = None
    ceiling: Fraction | None = None


class PGRs(_Model):
    """Performance gap recovered; ``None`` when the gap is below 0.01 or an accuracy is missing."""

    w2s_vs_weak: float | None = None
    ensemw2s_vs_weak: float | None = None
    ensemw2s_vs_ensemble: float | None = None


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
    """One effect the product reports, counted over seeds."""

    name: str
    seen_in: Count
    of: Count
    detail: str

    @model_validator(mode="after")
    def _seen_in_at_most_of(self) -> Effect:
        if self.seen_in > self.of:
            raise ValueError(f"seenIn: must be <= of = {self.of} (got {self.seen_in})")
        return self


class ExperimentResults(_Model):
    """Results of all seeds of one experiment, with effects and means over seeds."""

    experiment: str
    seeds: list[SeedResults] = Field(default_factory=list)
    effects: list[Effect] = Field(default_factory=list)
    mean: Accuracies = Field(default_factory=Accuracies)
    mean_pgr: PGRs = Field(default_factory=PGRs)

    def to_json(self) -> str:
        """JSON with camelCase names."""
        return self.model_dump_json(by_alias=True)

    def compact(self, max_bytes: int = TERMINATION_MESSAGE_LIMIT) -> ExperimentResults:
        """A copy whose JSON fits ``max_bytes`` (best effort), for a termination message.

        Drops per-round and prefix detail, rounds floats to 4 digits and keeps at most two notes
        per seed; if that is still too big, drops the notes, then the per-seed results (effects
        and means stay).
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
                "mean": _round_floats(self.mean),
                "mean_pgr": _round_floats(self.mean_pgr),
            }
        )
        compacted = base
        for candidate in candidates:
            compacted = base.model_copy(update={"seeds": candidate})
            if len(compacted.to_json().encode()) <= max_bytes:
                return compacted
        return compacted


def _round_floats(model: _M) -> _M:
    update = {name: round(value, _COMPACT_DIGITS) for name, value in model.__dict__.items() if isinstance(value, float)}
    return model.model_copy(update=update)


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
            "accuracies": _round_floats(seed.accuracies),
            "pgr": _round_floats(seed.pgr),
            "notes": notes,
        }
    )
