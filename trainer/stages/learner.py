"""Train one weak learner on the easy set under sample weights and score every split with it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from ensemw2s.spec import ErrorEstimate, ExperimentSpec, SampleWeighting

from ..models import Classifier
from ..training import ProgressEvent, predict_proba, train_classifier
from ..training.encoding import EncodedTexts
from .prepared import NUM_CLASSES, SPLITS, PreparedData, Role
from .training_config import weak_train_config

ProgressCallback = Callable[[ProgressEvent], None]


def _fit(
    spec: ExperimentSpec,
    data: PreparedData,
    seed: int,
    indices: np.ndarray,
    weights: np.ndarray,
    weighting: SampleWeighting | None,
    checkpoint_dir: Path | None,
    on_progress: ProgressCallback | None,
) -> Classifier:
    from ..models import load_classifier

    learner = load_classifier(spec.weak.model, NUM_CLASSES, data.corpus, seed, spec.weak.head, field="spec.weak.model")
    easy: EncodedTexts = data.tokens(Role.WEAK, "easy")
    subset = easy if len(indices) == len(easy) else easy.subset(indices.tolist())
    w = weights[indices]
    train_classifier(
        learner.model,
        subset,
        data.onehot("easy")[indices],
        weak_train_config(spec, seed, weighting),
        sample_weights=(w / w.sum()) if weighting is not None else None,
        checkpoint_dir=checkpoint_dir,
        on_progress=on_progress,
    )
    return learner.model


def _score(spec: ExperimentSpec, data: PreparedData, model: Classifier) -> dict[str, np.ndarray]:
    batch = spec.weak.training.eval_batch_size
    return {name: predict_proba(model, data.tokens(Role.WEAK, name), batch) for name in SPLITS}


def train_and_score(
    spec: ExperimentSpec,
    data: PreparedData,
    seed: int,
    weights: np.ndarray,
    weighting: SampleWeighting | None,
    checkpoints: Path | None,
    on_progress: ProgressCallback | None = None,
) -> dict[str, np.ndarray]:
    """Probabilities of one learner on every split.

    With ``errorEstimate: holdout`` the learner is two half-models, each trained on one half of the easy
    set; its easy-set probabilities come from the half that did not train on the example (so the
    boosting errors are honest), the other splits get the mean of the two halves.
    """
    n = len(weights)
    if spec.weak.error_estimate is ErrorEstimate.TRAIN:
        model = _fit(spec, data, seed, np.arange(n), weights, weighting, checkpoints, on_progress)
        return _score(spec, data, model)
    halves = np.array_split(np.random.default_rng(seed).permutation(n), 2)
    scored = []
    for h, half in enumerate(halves):
        sub = None if checkpoints is None else checkpoints / f"half-{h}"
        model = _fit(spec, data, seed * 2 + h, np.sort(half), weights, weighting, sub, on_progress)
        scored.append(_score(spec, data, model))
    probs = {name: (scored[0][name] + scored[1][name]) / 2 for name in SPLITS}
    easy = probs["easy"].copy()
    easy[halves[0]] = scored[1]["easy"][halves[0]]
    easy[halves[1]] = scored[0]["easy"][halves[1]]
    probs["easy"] = easy
    return probs
