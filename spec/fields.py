"""What each spec field is for, tagged once where the field is declared, and what is derived from the tags.

Every field of :class:`~ensemw2s.spec.ExperimentSpec` carries one :class:`FieldRole`, on itself or on the
section that holds it (``weak.resources`` is tagged as a whole):

- ``Output[...]``: changes what a stage computes. Part of the stage keys (``ensemw2s.trainer.keys``),
  fixed once an experiment started on a cluster.
- ``RuntimeOnly[...]``: how stages run (threads, resources, nodes, image, scheduling, run policy,
  credentials). In no key; may change on a running experiment and applies to the Jobs created afterwards
  (``ensemw2s.operator.spec_changes``).
- ``Location[...]``: where the artifacts live. In no key (outputs are the same wherever they are kept),
  but fixed once started: a moved store would lose every finished stage.

Paths are the camelCase names a user writes, dotted (``weak.training.checkpointEverySteps``).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel

from .base import to_camel


class FieldRole(StrEnum):
    OUTPUT = "output"
    RUNTIME = "runtime"
    LOCATION = "location"


_T = TypeVar("_T")
Output = Annotated[_T, FieldRole.OUTPUT]
"""A field that changes what a stage computes."""
RuntimeOnly = Annotated[_T, FieldRole.RUNTIME]
"""A field that changes only how a stage runs."""
Location = Annotated[_T, FieldRole.LOCATION]
"""A field that says where the artifacts live."""


class UntaggedField(TypeError):
    """A spec field has no role, or two (see the module docstring)."""


def _section(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (``X`` or ``X | None``), or None for a leaf (scalars, lists, maps)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        return models[0] if len(models) == 1 else None
    return None


def _walk(model: type[BaseModel], prefix: str, inherited: FieldRole | None) -> Iterator[tuple[str, FieldRole, bool]]:
    """``(path, role, tagged here)`` for every field; raises :class:`UntaggedField`."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{info.alias or to_camel(name)}"
        own = [m for m in info.metadata if isinstance(m, FieldRole)]
        if len(own) > 1 or (own and inherited is not None):
            raise UntaggedField(f"{model.__name__}.{name} ({path}): tagged twice; tag a field or its section, once")
        role = own[0] if own else inherited
        section = _section(info.annotation)
        if role is None and section is None:
            raise UntaggedField(
                f"{model.__name__}.{name} ({path}): no role; declare it as Output[...], RuntimeOnly[...] or Location[...]"
            )
        if role is not None:
            yield path, role, bool(own)
        if section is not None:
            yield from _walk(section, f"{path}.", role)


@cache
def tagged_fields(model: type[BaseModel]) -> dict[str, FieldRole]:
    """Each field that carries a tag (a leaf, or a section tagged as a whole) and its role."""
    return {path: role for path, role, here in _walk(model, "", None) if here}


@cache
def leaf_roles(model: type[BaseModel]) -> dict[str, FieldRole]:
    """The role of every field, sections' fields included (a leaf inherits its section's tag)."""
    return {path: role for path, role, _ in _walk(model, "", None)}


def fields_with_role(model: type[BaseModel], *roles: FieldRole) -> tuple[str, ...]:
    """The tagged paths (as :func:`tagged_fields`) with one of ``roles``, in declaration order."""
    return tuple(path for path, role in tagged_fields(model).items() if role in roles)


def without_fields(data: Mapping[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    """A copy of a model's JSON dict without ``paths`` (a section that is ``null`` has nothing to remove)."""

    def drop(node: Mapping[str, Any], parts: list[str]) -> dict[str, Any]:
        out = dict(node)
        head, *rest = parts
        if not rest:
            out.pop(head, None)
        elif isinstance(out.get(head), Mapping):
            out[head] = drop(out[head], rest)
        return out

    out = dict(data)
    for path in paths:
        out = drop(out, path.split("."))
    return out


def output_fields(model: BaseModel) -> dict[str, Any]:
    """The model's JSON dict (camelCase, defaults included) with only its ``Output`` fields."""
    return without_fields(model.model_dump(mode="json", by_alias=True), fields_with_role(type(model), *_NOT_OUTPUT))


_NOT_OUTPUT = (FieldRole.RUNTIME, FieldRole.LOCATION)

__all__ = [
    "FieldRole",
    "Location",
    "Output",
    "RuntimeOnly",
    "UntaggedField",
    "fields_with_role",
    "leaf_roles",
    "output_fields",
    "tagged_fields",
    "without_fields",
]
