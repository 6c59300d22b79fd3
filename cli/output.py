"""The one output sink: commands return data, this renders it as table|wide|json|yaml|name on stdout."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import yaml


class OutputFormat(StrEnum):
    TABLE = "table"
    WIDE = "wide"
    JSON = "json"
    YAML = "yaml"
    NAME = "name"


@dataclass
class Rows:
    """Tabular data: columns shown by default, extra columns for ``-o wide``, and the raw objects."""

    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    wide_columns: Sequence[str] = ()
    wide_rows: Sequence[Sequence[str]] = ()
    names: Sequence[str] = ()
    raw: Any = None
    title: str | None = None
    footer: list[str] = field(default_factory=list)


def render(data: Rows, fmt: OutputFormat) -> str:
    if fmt is OutputFormat.JSON:
        return json.dumps(data.raw, indent=2, sort_keys=False)
    if fmt is OutputFormat.YAML:
        return yaml.safe_dump(data.raw, sort_keys=False).rstrip()
    if fmt is OutputFormat.NAME:
        return "\n".join(data.names)
    columns = list(data.columns)
    rows = [list(r) for r in data.rows]
    if fmt is OutputFormat.WIDE and data.wide_columns:
        columns += list(data.wide_columns)
        rows = [r + list(w) for r, w in zip(rows, data.wide_rows, strict=True)]
    widths = [max(len(str(c)), *(len(str(r[i])) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]
    lines = [] if data.title is None else [data.title]
    lines.append("   ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    lines += ["   ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines + data.footer)
