"""The base of every spec model: camelCase in YAML/JSON, snake_case in Python, no unknown fields.

:class:`StrictSpecModel` (the models of what a user writes) is exactly as strict as the generated CRD's
schema, so a spec that validates locally is one the API server accepts, and the other way round: no
``true`` for a number, no ``"2"`` for an integer, no ``1`` for a boolean. Two conversions JSON Schema
allows stay: an integer where a number is expected, and a whole float (``3.0``) where an integer is
(:data:`Integer`); enums (:class:`SpecEnum`) parse from their strings.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, cast

from pydantic import BaseModel, BeforeValidator, ConfigDict, GetCoreSchemaHandler
from pydantic_core import core_schema


def to_camel(name: str) -> str:
    """``hard_train`` -> ``hardTrain``; unlike pydantic's helper it leaves ``ensemw2s_vs_weak`` as ``ensemw2sVsWeak``.

    The one alias function of every model with camelCase JSON (spec, results, status).
    """
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class SpecModel(BaseModel):
    """Frozen, strict about unknown fields, camelCase aliases like a Kubernetes resource."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_enum_values=False,
        validate_default=True,
    )

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON shape a user writes (camelCase, enums as strings), defaults included."""
        return self.model_dump(mode="json", by_alias=True)


class StrictSpecModel(SpecModel):
    """A model of what a user writes: types as strict as the CRD's schema (see the module docstring)."""

    model_config = ConfigDict(strict=True)


class SpecEnum(StrEnum):
    """A closed choice of the spec: parsed from its string value even in a strict model."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        schema = handler(source)
        if schema["type"] == "enum":
            cast("dict[str, Any]", schema)["strict"] = False  # an enum's own strictness overrides the model's
        return schema


def _whole_number(value: Any) -> Any:
    """``3.0`` -> ``3``: JSON has one number type, and the API server takes a whole float as an integer."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WHOLE_NUMBER = BeforeValidator(_whole_number)
"""Put it after a field's constraints (``Annotated[int, Field(ge=0), WHOLE_NUMBER]``): the JSON Schema keeps them."""
Integer = Annotated[int, WHOLE_NUMBER]
"""An integer field of a strict model: an int, or a float without a fraction; never a bool or a string."""
OptionalInteger = Annotated[int | None, WHOLE_NUMBER]
"""An :data:`Integer` or ``null`` (not ``Integer | None``, whose constraints the JSON Schema would lose)."""
