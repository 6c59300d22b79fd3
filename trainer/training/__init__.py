"""Training: encoded texts and answers, the run config, losses, the accelerate training loop (classifiers and
causal LMs) and batched inference."""

from .answer_encoding import EncodedAnswers, encode_answers, encode_questions
from .batching import BatchPlan, MicroBatch, PlanSampler, epoch_batches, resample_indices, step_micro_batches
from .causal_lm_loop import train_causal_lm
from .checkpoint import latest_checkpoint, restore_checkpoint, save_checkpoint
from .config import TrainConfig
from .encoding import EncodedTexts, TokenBatch, encode_texts
from .errors import TrainingError
from .loader import TrainingBatch, TrainingExamples, plan_loader
from .loop import ProgressEvent, TrainReport, one_hot_targets, train_classifier
from .losses import (
    example_loss_scales,
    harden_predictions,
    logconf_alpha,
    logconf_loss,
    logconf_targets,
    per_example_cross_entropy,
    scaled_batch_loss,
    soft_cross_entropy,
)
from .predict import predict_proba
from .runtime import available_cpus, resolve_mixed_precision, set_threads, stage_accelerator
from .teacher_forcing import TeacherForced, teacher_forced

__all__ = [
    "BatchPlan",
    "EncodedAnswers",
    "EncodedTexts",
    "MicroBatch",
    "PlanSampler",
    "ProgressEvent",
    "TeacherForced",
    "TokenBatch",
    "TrainConfig",
    "TrainReport",
    "TrainingBatch",
    "TrainingError",
    "TrainingExamples",
    "available_cpus",
    "encode_answers",
    "encode_questions",
    "encode_texts",
    "epoch_batches",
    "example_loss_scales",
    "harden_predictions",
    "latest_checkpoint",
    "logconf_alpha",
    "logconf_loss",
    "logconf_targets",
    "one_hot_targets",
    "per_example_cross_entropy",
    "plan_loader",
    "predict_proba",
    "resample_indices",
    "resolve_mixed_precision",
    "restore_checkpoint",
    "save_checkpoint",
    "scaled_batch_loss",
    "set_threads",
    "soft_cross_entropy",
    "stage_accelerator",
    "step_micro_batches",
    "teacher_forced",
    "train_causal_lm",
    "train_classifier",
]
