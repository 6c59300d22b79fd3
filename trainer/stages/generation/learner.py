"""Train one weak causal LM on the easy answers under token weights, and measure its token errors.

As classification's ``learner.py``: the learner that joins the ensemble (round 0: *is* the single weak
supervisor) is trained on every easy question. With ``errorEstimate: crossfit`` its token errors are
measured out of sample: k fold models, trained the same way (as many optimiser steps) on the other
folds' questions, score by teacher forcing the answers they did not see. With ``train`` the learner
scores its own training answers (the authors' choice, which reads as no error once it fits them).
Folds split questions, never the tokens of one answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from accelerate import Accelerator
from ensemw2s.spec import ErrorEstimate, ExperimentSpec

from ...models.causal_lm import LoadedCausalLM, load_causal_lm
from ...training import ProgressEvent, stage_accelerator, teacher_forced, train_causal_lm
from ...training.answer_encoding import EncodedAnswers
from ..learner import FOLD_SEED_STRIDE, error_folds
from ..training_config import weak_train_config
from .prepared import PreparedQuestionData

ProgressCallback = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class ScoredAnswerer:
    """The learner trained on every easy question and its token errors on the easy answers (flat)."""

    learner: LoadedCausalLM
    errors: npt.NDArray[np.bool_]
    """Out of sample (crossfit) or the learner's own (train) errors, one per easy answer token."""
    own_errors: npt.NDArray[np.bool_]
    """The learner's errors on its own training answers (the easy token accuracy it reached)."""


def _fit(
    spec: ExperimentSpec,
    data: PreparedQuestionData,
    seed: int,
    base_seed: int,
    questions: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64] | None,
    checkpoints: Path | None,
    on_progress: ProgressCallback | None,
    accelerator: Accelerator,
) -> LoadedCausalLM:
    weak = spec.weak
    learner = load_causal_lm(weak.model, data.corpus, seed, weak.lora, base_seed=base_seed, field="spec.weak.model")
    easy = data.answers("easy")
    everything = len(questions) == len(easy)
    subset = easy if everything else easy.subset(questions.tolist())
    subset_weights = weights
    if weights is not None and not everything:
        subset_weights = weights[easy.answers.positions(questions)]
    config = weak_train_config(spec, seed)
    if not everything:  # as many optimiser steps as the full learner (see classification's learner.py)
        config = dataclasses.replace(config, epochs=config.epochs * len(easy) / len(questions))
    train_causal_lm(
        learner.model,
        subset,
        config,
        token_weights=subset_weights,
        checkpoint_dir=checkpoints,
        on_progress=on_progress,
        accelerator=accelerator,
    )
    return learner


def train_and_score(
    spec: ExperimentSpec,
    data: PreparedQuestionData,
    seed: int,
    weights: npt.NDArray[np.float64] | None,
    checkpoints: Path | None,
    on_progress: ProgressCallback | None = None,
    *,
    base_seed: int,
) -> ScoredAnswerer:
    """Train the learner on all easy questions (and the fold models with crossfit); measure token errors.

    ``weights`` None trains on the plain mean answer-token NLL (round 0, bagging).
    """
    easy: EncodedAnswers = data.answers("easy")
    n = len(easy)
    batch = spec.weak.training.eval_batch_size
    full = None if checkpoints is None else checkpoints / "full"
    accelerator = stage_accelerator(weak_train_config(spec, seed))  # the stage's one Accelerator
    learner = _fit(spec, data, seed, base_seed, np.arange(n), weights, full, on_progress, accelerator)
    own = teacher_forced(learner.model, easy, batch).errors
    if spec.weak.error_estimate is ErrorEstimate.TRAIN:
        return ScoredAnswerer(learner=learner, errors=own, own_errors=own)
    held_out = np.zeros_like(own)
    for f, fold in enumerate(error_folds(n, spec.weak.error_folds, seed)):
        rest = np.setdiff1d(np.arange(n), fold)
        sub = None if checkpoints is None else checkpoints / f"fold-{f}"
        fold_seed = seed * FOLD_SEED_STRIDE + 1 + f
        model = _fit(spec, data, fold_seed, base_seed, rest, weights, sub, on_progress, accelerator)
        scored = teacher_forced(model.model, easy.subset(fold.tolist()), batch)
        held_out[easy.answers.positions(fold)] = scored.errors
    return ScoredAnswerer(learner=learner, errors=held_out, own_errors=own)
