"""The EnsemW2S method in torch: data, models, training, boosting, stages over an artifact store.

Entry points: ``run_experiment`` (every stage in order, in-process: ``w2sctl run``), ``run_stage``
(one stage: what a stage Job runs through ``python -m ensemw2s.trainer``).
"""

from .errors import MissingInput, StageFailed, StoreError, TrainerError
from .runner import ExperimentRun, run_experiment
from .stages import run_stage

__all__ = ["ExperimentRun", "MissingInput", "StageFailed", "StoreError", "TrainerError", "run_experiment", "run_stage"]
