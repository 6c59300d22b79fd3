"""The JSON records stages hand to later stages: one typed model per file, validated when read.

Each is written by one stage (``StageWorkspace.write_model``) and read back by later ones
(``StageOutput.read_model``), so a damaged or hand-edited record fails naming the file and the field.
The arrays beside them (``.npz``) are checked against the stage's ``stage.json`` digests.
"""

from __future__ import annotations

from typing import Annotated, Self

from ensemw2s.spec import ErrorEstimate, StrongVariant
from ensemw2s.spec.base import SpecModel
from pydantic import Field, model_validator

from ..method import BoostingSummary

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class LearnerRecord(SpecModel):
    """What the round's weak learner measured (absent when the round did not train one)."""

    eps: Fraction = Field(description="Weighted error on the easy set, as errorEstimate measures it.")
    alpha: float | None = Field(description="SAMME weight; None: the whole weight (eps = 0) or round 0 at chance.")
    error_estimate: ErrorEstimate
    degenerate: bool = Field(description="eps below 1e-3: boosting barely moves the weights.")
    val_accuracy: Fraction
    hard_test_accuracy: Fraction
    easy_accuracy: Fraction
    easy_error_rate: Fraction = Field(description="Unweighted share of easy items the errors count as wrong.")


class RoundRecord(SpecModel):
    """``round.json``: one weak round, written by ``weak --round t``, read by the next round and ``aggregate``."""

    round: int = Field(ge=0)
    active: bool = Field(description="The learner joins the ensemble.")
    stop_reason: str | None = Field(None, description="Why boosting stopped at (or before) this round.")
    learner: LearnerRecord | None = Field(None, description="None when boosting had stopped before this round.")
    notes: list[str] = Field(default_factory=list)

    @property
    def stopped(self) -> bool:
        """Boosting adds no round after this one."""
        return self.stop_reason is not None

    @model_validator(mode="after")
    def _active_rounds_trained(self) -> Self:
        if self.active and self.learner is None:
            raise ValueError("learner: required when the round is active (got none); redo the round")
        if self.learner is None and self.stop_reason is None:
            raise ValueError("stopReason: required when the round trained no learner (got none); redo the round")
        return self


class AggregateRecord(SpecModel):
    """``aggregate.json``: the boosting summary of one seed and why boosting stopped, read by ``report``."""

    boosting: BoostingSummary
    stop_reason: str | None = None


class StudentRecord(SpecModel):
    """``student.json``: one strong student, written by ``strong --variant v``, read by ``report``."""

    variant: StrongVariant
    accuracy: Fraction = Field(description="Hard-test accuracy.")
    label_accuracy: Fraction = Field(description="Agreement of the labels it learned from with the gold labels.")
    examples_per_second: float = Field(ge=0.0)
    resumed_from_step: int = Field(ge=0, description="The checkpoint step training resumed from (0: from the start).")


class ExampleRecord(SpecModel):
    """One prepared example."""

    id: str
    text: str
    label: int = Field(ge=0)
    difficulty: float | None = None


class PreparedExamples(SpecModel):
    """``examples.json``: every split's examples and K, written by ``prepare``."""

    num_classes: int = Field(ge=2, description="K.")
    easy: list[ExampleRecord]
    val: list[ExampleRecord]
    hard_train: list[ExampleRecord]
    hard_test: list[ExampleRecord]

    def split(self, name: str) -> list[ExampleRecord]:
        examples: list[ExampleRecord] = getattr(self, name)
        return examples
