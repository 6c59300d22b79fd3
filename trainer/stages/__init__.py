"""The stages of an experiment, each a command of ``python -m ensemw2s.trainer``."""

from .context import StageContext, StageResult
from .run import run_stage, stage_function, write_termination_message

__all__ = ["StageContext", "StageResult", "run_stage", "stage_function", "write_termination_message"]
