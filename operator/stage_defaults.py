"""The operator's defaults for what an experiment's spec leaves out: the trainer image and stage pod resources.

Why the operator has them: a namespace with a ResourceQuota on ``requests.cpu``/``requests.memory``
refuses a pod that requests neither, so every stage pod must carry requests even when the spec names
none. The defaults belong to the cluster's administrator, not to the CRD: they come from the operator's
``--stage-defaults`` (env ``W2S_STAGE_DEFAULTS``; the chart's ``experimentDefaults`` and
``trainerImage``), and changing them needs no new CRD and rewrites no stored experiment.

Field by field, a value in the spec wins; a field it leaves out (null) takes the default of the stage's
kind: strong stages ``strong``, every other stage that uses the spec's resources (prepare, weak, the
aggregate of a generation experiment) ``weak``. ``gpus: 0`` in a spec is explicit: no GPU, whatever the
default. Stages that load no model (report, a classification aggregate, the cleanup Job) keep the small
fixed resources of :mod:`.jobs`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ensemw2s.spec import ExperimentSpec, Resources, StageKind
from ensemw2s.spec.base import StrictSpecModel
from ensemw2s.spec.errors import describe_value
from ensemw2s.spec.images import TRAINER_IMAGE
from ensemw2s.spec.manifest import problem_from_pydantic
from pydantic import Field, ValidationError, ValidationInfo, field_validator

WEAK_DEFAULTS = Resources(gpus=0, cpu="1", memory="4Gi")
"""Prepare, weak and generation-aggregate pods, when neither the spec nor the operator's settings say."""
STRONG_DEFAULTS = Resources(gpus=0, cpu="2", memory="8Gi")
"""Strong pods, when neither the spec nor the operator's settings say."""
EXAMPLE = '{"image": "registry.example/trainer:1.0", "weak": {"cpu": "1", "memory": "4Gi", "gpus": 0}}'


@dataclass(frozen=True)
class PodResources:
    """What one pod requests once the defaults are applied: GPUs always a number, no request where None."""

    gpus: int = 0
    cpu: str | None = None
    memory: str | None = None


class StageDefaults(StrictSpecModel):
    """The operator's defaults (JSON, camelCase like the spec). A resource field left out of ``weak`` or
    ``strong`` keeps its built-in default; null means no request (no GPU)."""

    image: str = Field(
        TRAINER_IMAGE, min_length=1, description="Trainer image of the experiments that set no spec.image."
    )
    weak: Resources = Field(WEAK_DEFAULTS, description="Prepare, weak and generation-aggregate pods.")
    strong: Resources = Field(STRONG_DEFAULTS, description="Strong pods.")

    @field_validator("weak", "strong", mode="before")
    @classmethod
    def _over_the_built_in(cls, value: Any, info: ValidationInfo) -> Any:
        """``{"weak": {"gpus": 1}}`` changes the GPUs only: the other fields keep the built-in defaults."""
        if isinstance(value, Mapping):
            built_in = WEAK_DEFAULTS if info.field_name == "weak" else STRONG_DEFAULTS
            return {**built_in.model_dump(by_alias=True), **value}
        return value

    def trainer_image(self, spec: ExperimentSpec) -> str:
        """The image of an experiment's stage and cleanup pods: ``spec.image``, else this default."""
        return spec.image or self.image

    def stage_resources(self, spec: ExperimentSpec, kind: StageKind) -> PodResources:
        """The spec's resources for a stage of ``kind`` (strong, else weak), unset fields from the defaults."""
        if kind is StageKind.STRONG:
            return fill(spec.strong.resources, self.strong)
        return fill(spec.weak.resources, self.weak)


BUILT_IN_DEFAULTS = StageDefaults()
"""The defaults of an operator started without ``--stage-defaults``."""


def fill(requested: Resources, defaults: Resources) -> PodResources:
    """Each field of ``requested`` that is set, else the default's (``gpus`` None in both: none)."""
    gpus = requested.gpus if requested.gpus is not None else defaults.gpus
    return PodResources(
        gpus=gpus or 0,
        cpu=requested.cpu if requested.cpu is not None else defaults.cpu,
        memory=requested.memory if requested.memory is not None else defaults.memory,
    )


class StageDefaultsError(ValueError):
    """The ``--stage-defaults`` text is not JSON, or not valid stage defaults (one line, the project's formula)."""


def parse_stage_defaults(text: str, where: str = "--stage-defaults") -> StageDefaults:
    """Parse the JSON of :class:`StageDefaults`; ``where`` names the flag or variable it came from."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StageDefaultsError(
            f"{where}: is not JSON: {exc.msg} at column {exc.colno} (got {describe_value(text)}); e.g. {EXAMPLE}"
        ) from None
    try:
        return StageDefaults.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(str(problem_from_pydantic(error)) for error in exc.errors())
        raise StageDefaultsError(f"{where}: {problems}; e.g. {EXAMPLE}") from None


__all__ = [
    "BUILT_IN_DEFAULTS",
    "STRONG_DEFAULTS",
    "WEAK_DEFAULTS",
    "PodResources",
    "StageDefaults",
    "StageDefaultsError",
    "fill",
    "parse_stage_defaults",
]
