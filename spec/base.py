"""The base of every spec model: camelCase in YAML/JSON, snake_case in Python, no unknown fields."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


def to_camel(name: str) -> str:
    """``hard_train`` -> ``hardTrain``; unlike pydantic's helper it leaves ``ensemw2s_vs_weak`` as ``ensemw2sVsWeak``."""
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
