"""The stages of an experiment, each a command of ``python -m ensemw2s.trainer``."""

from .context import StageContext, StageResult
from .run import DamagedInput, redo_hint, run_stage, stage_function, write_termination_message

__all__ = [
    "DamagedInput",
    "StageContext",
    "StageResult",
    "redo_hint",
    "run_stage",
    "stage_function",
    "write_termination_message",
]
