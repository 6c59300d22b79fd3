"""Stage keys: a hash of everything that determines a stage's output, including its inputs' keys.

Outputs are addressed by key, so a changed spec reruns exactly the stages it affects and a rerun of an
unchanged spec skips everything already done. Each stage hashes the spec fields it reads among those
tagged ``Output`` (``ensemw2s.spec.fields``: mixed precision included); fields tagged ``RuntimeOnly``
(threads, resources, nodes, checkpoint interval, ...) or ``Location`` (the store) are in no key.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from ensemw2s.spec import (
    DifficultyMethod,
    EnsembleMethod,
    ExperimentSpec,
    Stage,
    StageKind,
    StrongVariant,
    Task,
    build_stage_graph,
)
from ensemw2s.spec.fields import output_fields

from .data.synthetic import GENERATOR_VERSION
from .data.synthetic import NAME as SYNTHETIC
from .data.synthetic_generation import GENERATOR_VERSION as WORD_OPS_GENERATOR_VERSION
from .data.synthetic_generation import NAME as SYNTHETIC_WORD_OPS
from .data.synthetic_topics import GENERATOR_VERSION as TOPICS_GENERATOR_VERSION
from .data.synthetic_topics import NAME as SYNTHETIC_TOPICS

KEY_LENGTH = 12
FORMAT_VERSION = 2  # bump when a stage's output format changes


def digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def _own_config(spec: ExperimentSpec, stage: Stage) -> dict[str, Any]:
    """The ``Output`` fields ``stage`` reads (see the module docstring)."""
    config = _task_config(spec, stage)
    if spec.task is Task.GENERATION and stage.kind is not StageKind.REPORT:
        # A generation stage also reads the task and its generation settings (defaults included, so a
        # changed default changes the key); classification keys are as they always were.
        config |= {"task": spec.task.value, "generation": spec.generation_settings.model_dump(mode="json")}
        if stage.kind is StageKind.PREPARE and spec.dataset.source is None:
            config["generator"] = {SYNTHETIC_WORD_OPS: WORD_OPS_GENERATOR_VERSION}.get(spec.dataset.name)
    return config


def _task_config(spec: ExperimentSpec, stage: Stage) -> dict[str, Any]:
    out = output_fields(spec)
    if stage.kind is StageKind.PREPARE:
        config: dict[str, Any] = {
            "dataset": out["dataset"],
            "generator": None
            if spec.dataset.source is not None
            else {SYNTHETIC: GENERATOR_VERSION, SYNTHETIC_TOPICS: TOPICS_GENERATOR_VERSION}.get(spec.dataset.name),
            "weak": {key: out["weak"][key] for key in ("model", "head")} | {"maxLength": spec.weak.training.max_length},
            "strong": {"model": spec.strong.model, "maxLength": spec.strong.training.max_length},
        }
        if spec.dataset.difficulty.method is DifficultyMethod.KFOLD:
            # k-fold difficulty trains weak models.
            config["weakTraining"] = out["weak"]["training"]
            config["runtime"] = out["runtime"]
        return config
    if stage.kind is StageKind.WEAK:
        weak = {key: value for key, value in out["weak"].items() if key != "rounds"}
        return {"weak": weak, "ensemble": spec.ensemble.method.value, "round": stage.round, "runtime": out["runtime"]}
    if stage.kind is StageKind.AGGREGATE:
        return {"ensemble": out["ensemble"]}
    if stage.kind is StageKind.STRONG:
        strong = dict(out["strong"])
        if stage.variant is StrongVariant.CEILING:
            # Gold labels and cross-entropy whatever the students' loss and pseudo-labels.
            strong.pop("loss")
            strong.pop("pseudoLabels")
        return {"strong": strong, "variant": stage.variant, "runtime": out["runtime"]}
    return {}


def stage_keys(spec: ExperimentSpec) -> dict[Stage, str]:
    """The key of every stage of the spec's graph."""
    return dict(_stage_keys(spec.model_dump_json()))


@cache
def _stage_keys(spec_json: str) -> tuple[tuple[Stage, str], ...]:
    spec = ExperimentSpec.model_validate_json(spec_json)
    graph = build_stage_graph(spec)
    keys: dict[Stage, str] = {}
    bagging = spec.ensemble.method is EnsembleMethod.BAGGING
    for stage in graph.stages:
        inputs = [keys[d] for d in graph.dependencies[stage]]
        if stage.kind is StageKind.WEAK and not bagging and stage.round:
            # AdaBoost round t also reads the prepared data directly.
            inputs.append(keys[Stage(StageKind.PREPARE, stage.seed)])
        if stage.kind in {StageKind.AGGREGATE, StageKind.STRONG}:
            inputs.append(keys[Stage(StageKind.PREPARE, stage.seed)])
        keys[stage] = digest(
            {
                "v": FORMAT_VERSION,
                "stage": stage.name,
                "seed": stage.seed,
                "own": _own_config(spec, stage),
                "in": inputs,
            }
        )
    return tuple(keys.items())
