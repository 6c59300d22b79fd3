"""Train one weak learner on the easy set under sample weights, score every split, measure its errors.

The learner that joins the ensemble (and, in round 0, *is* the single weak supervisor) is always the
model trained on all easy items. With ``errorEstimate: crossfit`` its boosting errors are measured out
of sample: k fold models, each trained the same way (same settings, as many optimiser steps) on the
other folds, score the easy items they did not see. With ``errorEstimate: train`` the learner scores
its own training items (the authors' choice), which reads as zero error once it fits them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from accelerate import Accelerator
from ensemw2s.spec import ErrorEstimate, ExperimentSpec, SampleWeighting

from ..models import Classifier, LoadedClassifier
from ..training import ProgressEvent, predict_proba, stage_accelerator, train_classifier
from ..training.encoding import EncodedTexts
from .prepared import SPLITS, PreparedData, Role
from .training_config import weak_train_config

ProgressCallback = Callable[[ProgressEvent], None]
FOLD_SEED_STRIDE = 7919
"""Fold f of the learner seeded s trains with seed s * FOLD_SEED_STRIDE + 1 + f (never s itself)."""


@dataclass(frozen=True)
class ScoredLearner:
    """A learner's probabilities on every split, and the easy-set probabilities its errors come from."""

    probs: dict[str, np.ndarray]
    error_probs: np.ndarray
    """Out of sample (crossfit) or the learner's own (train) probabilities on the easy items."""
    learner: LoadedClassifier
    """The learner trained on all easy items (the one that joins the ensemble)."""


def _fit(
    spec: ExperimentSpec,
    data: PreparedData,
    seed: int,
    base_seed: int,
    indices: np.ndarray,
    weights: np.ndarray,
    weighting: SampleWeighting | None,
    checkpoint_dir: Path | None,
    on_progress: ProgressCallback | None,
    accelerator: Accelerator,
) -> LoadedClassifier:
    from ..models.lora import load_trainable

    weak = spec.weak
    learner = load_trainable(
        weak.model,
        data.num_classes,
        data.corpus,
        seed,
        weak.head,
        weak.lora,
        base_seed=base_seed,
        field="spec.weak.model",
    )
    easy: EncodedTexts = data.tokens(Role.WEAK, "easy")
    subset = easy if len(indices) == len(easy) else easy.subset(indices.tolist())
    w = weights[indices]
    config = weak_train_config(spec, seed, weighting)
    if len(indices) < len(easy):
        # A fold model takes as many optimiser steps as the full model: fewer items, more epochs. With the
        # same epochs on half the items, a model near its learning threshold stays at chance and its
        # "out-of-sample" errors describe a different, untrained model.
        config = dataclasses.replace(config, epochs=config.epochs * len(easy) / len(indices))
    train_classifier(
        learner.model,
        subset,
        data.onehot("easy")[indices],
        config,
        sample_weights=(w / w.sum()) if weighting is not None else None,
        checkpoint_dir=checkpoint_dir,
        on_progress=on_progress,
        accelerator=accelerator,
    )
    return learner


def _predict(spec: ExperimentSpec, data: PreparedData, model: Classifier, split: str) -> np.ndarray:
    return predict_proba(model, data.tokens(Role.WEAK, split), spec.weak.training.eval_batch_size)


def error_folds(n: int, folds: int, seed: int) -> list[np.ndarray]:
    """The easy items split into ``folds`` seeded folds of near-equal size (sorted indices)."""
    return [np.sort(fold) for fold in np.array_split(np.random.default_rng(seed).permutation(n), folds)]


def train_and_score(
    spec: ExperimentSpec,
    data: PreparedData,
    seed: int,
    weights: np.ndarray,
    weighting: SampleWeighting | None,
    checkpoints: Path | None,
    on_progress: ProgressCallback | None = None,
    *,
    base_seed: int,
) -> ScoredLearner:
    """Train the learner on all easy items (and the fold models with crossfit) and score every split.

    ``base_seed`` builds the frozen base of LoRA learners (``spec.weak.lora``): one per replicate, so
    every round's adapter applies to the same base; full fine-tuning ignores it.
    """
    n = len(weights)
    full = None if checkpoints is None else checkpoints / "full"
    accelerator = stage_accelerator(weak_train_config(spec, seed, weighting))  # the stage's one Accelerator
    learner = _fit(spec, data, seed, base_seed, np.arange(n), weights, weighting, full, on_progress, accelerator)
    probs = {name: _predict(spec, data, learner.model, name) for name in SPLITS}
    if spec.weak.error_estimate is ErrorEstimate.TRAIN:
        return ScoredLearner(probs=probs, error_probs=probs["easy"], learner=learner)
    held_out = np.empty_like(probs["easy"])
    easy = data.tokens(Role.WEAK, "easy")
    for f, fold in enumerate(error_folds(n, spec.weak.error_folds, seed)):
        rest = np.setdiff1d(np.arange(n), fold)
        sub = None if checkpoints is None else checkpoints / f"fold-{f}"
        fold_seed = seed * FOLD_SEED_STRIDE + 1 + f
        fold_model = _fit(spec, data, fold_seed, base_seed, rest, weights, weighting, sub, on_progress, accelerator)
        held_out[fold] = predict_proba(fold_model.model, easy.subset(fold.tolist()), spec.weak.training.eval_batch_size)
    return ScoredLearner(probs=probs, error_probs=held_out, learner=learner)
