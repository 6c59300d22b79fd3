"""Training: encoded texts, the run config, losses, the training loop and batched inference."""

from .batching import BatchPlan, epoch_batches, resample_indices
from .checkpoint import latest_checkpoint, restore_checkpoint, save_checkpoint
from .config import LossKind, MixedPrecision, TrainConfig, WeightingMode
from .encoding import EncodedTexts, TokenBatch, encode_texts
from .errors import TrainingError
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
from .runtime import available_cpus, make_accelerator, resolve_mixed_precision, set_threads

__all__ = [
    "BatchPlan",
    "EncodedTexts",
    "LossKind",
    "MixedPrecision",
    "ProgressEvent",
    "TokenBatch",
    "TrainConfig",
    "TrainReport",
    "TrainingError",
    "WeightingMode",
    "available_cpus",
    "encode_texts",
    "epoch_batches",
    "example_loss_scales",
    "harden_predictions",
    "latest_checkpoint",
    "logconf_alpha",
    "logconf_loss",
    "logconf_targets",
    "make_accelerator",
    "one_hot_targets",
    "per_example_cross_entropy",
    "predict_proba",
    "resample_indices",
    "resolve_mixed_precision",
    "restore_checkpoint",
    "save_checkpoint",
    "scaled_batch_loss",
    "set_threads",
    "soft_cross_entropy",
    "train_classifier",
]
