"""A stage's result summary: written to ``stage.json`` and to the container's termination message.

The operator copies it into the experiment's status; it must stay under 4 KiB as JSON.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from .base import SpecModel
from .contract import TERMINATION_MESSAGE_LIMIT


class StageSummary(SpecModel):
    stage: str = Field(description="Stage name, e.g. weak-s42-r0.")
    key: str = Field(description="Hash of the stage's resolved config; a finished stage with this key is skipped.")
    seconds: float = Field(ge=0, description="Wall time of the stage.")
    skipped: bool = Field(False, description="True when the stage found its output already done.")
    metrics: dict[str, float] = Field(default_factory=dict, description="Stage metrics (accuracy, eps, alpha, ...).")
    notes: list[str] = Field(default_factory=list)
    results: dict[str, Any] | None = Field(None, description="Compact experiment results (report stage).")

    def termination_message(self) -> str:
        """JSON of at most 4 KiB: notes, then results, are dropped when too long."""
        data = self.to_json_dict()
        text = json.dumps(data, separators=(",", ":"))
        for key in ("notes", "results"):
            if len(text.encode()) <= TERMINATION_MESSAGE_LIMIT:
                break
            data[key] = [] if key == "notes" else None
            text = json.dumps(data, separators=(",", ":"))
        return text[:TERMINATION_MESSAGE_LIMIT]

    @classmethod
    def from_termination_message(cls, text: str) -> StageSummary | None:
        """Parse a termination message; None when it is not one of ours (e.g. a crash's last log lines)."""
        try:
            return cls.model_validate_json(text)
        except ValueError:
            return None
