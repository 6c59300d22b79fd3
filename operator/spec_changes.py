"""Spec changes after an experiment started: which fields may change, and how a refusal reads.

What an experiment *computes* (the spec's ``Output`` fields) and where its artifacts live (``Location``) are
fixed once its first Job exists; how it *runs* (the ``RuntimeOnly`` fields: image, resources, nodes,
scheduling, run policy, threads, checkpoint interval, secrets) may change and applies to Jobs created
afterwards. The roles are tagged on the spec models (``ensemw2s.spec.fields``), the stage keys read the same tags.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ensemw2s.spec import ExperimentSpec, problem
from ensemw2s.spec.fields import FieldRole, fields_with_role, without_fields
from pydantic import ValidationError

MUTABLE_FIELDS: tuple[str, ...] = fields_with_role(ExperimentSpec, FieldRole.RUNTIME)
"""Spec fields (camelCase paths under ``spec``) that may change after the experiment started: the ``RuntimeOnly`` ones."""


def fixed_spec(spec: ExperimentSpec) -> dict[str, Any]:
    """The spec without :data:`MUTABLE_FIELDS`: what an experiment computes, and where it keeps its artifacts."""
    return without_fields(spec.to_json_dict(), MUTABLE_FIELDS)


def spec_hash(fixed: Mapping[str, Any]) -> str:
    text = json.dumps(fixed, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def changed_fields(accepted: Any, current: Any, path: str = "spec") -> list[tuple[str, Any, Any]]:
    """``(path, accepted, current)`` per changed field. Fields only one side has are ignored: they
    come from a different operator version (a new field with its default), not from the user."""
    if isinstance(accepted, dict) and isinstance(current, dict):
        out: list[tuple[str, Any, Any]] = []
        for key in accepted:
            if key in current:
                out += changed_fields(accepted[key], current[key], f"{path}.{key}")
        return out
    return [] if accepted == current else [(path, accepted, current)]


def refusal_message(changes: Sequence[tuple[str, Any, Any]]) -> str:
    lines = [
        str(problem(p, f"cannot change after the experiment started, accepted {json.dumps(old)}", new))
        for p, old, new in changes
    ]
    return (
        "\n".join(lines) + "\nrevert these fields, or create a new experiment for the new spec; "
        "no new stage starts until then"
    )


def graph_spec(spec: ExperimentSpec, accepted: Mapping[str, Any] | None, refused: bool) -> ExperimentSpec:
    """The spec whose graph the status describes: the accepted one while a change is refused."""
    if not refused or not accepted:
        return spec

    def merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(base)
        for key, value in over.items():
            out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        return out

    try:
        return ExperimentSpec.model_validate(merge(spec.to_json_dict(), accepted))
    except ValidationError:
        return spec
