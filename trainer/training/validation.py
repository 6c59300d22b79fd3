"""Checks on what a training run is given, and the fingerprints that tie a checkpoint to its run."""

from __future__ import annotations

import hashlib

import numpy as np
from ensemw2s.spec import SampleWeighting, StudentLoss

from ..models.classifier import Classifier
from .answer_encoding import EncodedAnswers
from .checkpoint import Fingerprint
from .config import TrainConfig
from .encoding import EncodedTexts
from .errors import TrainingError


def check_inputs(
    classifier: Classifier,
    encoded: EncodedTexts,
    targets: np.ndarray,
    config: TrainConfig,
    sample_weights: np.ndarray | None,
) -> None:
    """Raise TrainingError when targets or weights do not fit the data, the classifier or the mode."""
    count, classes = len(encoded), classifier.num_labels
    if count == 0:
        raise TrainingError("encoded", "holds no examples", None, "encode at least one text")
    if targets.shape != (count, classes):
        raise TrainingError(
            "targets",
            f"must have shape (examples, classes) = ({count}, {classes})",
            targets.shape,
            "pass one soft label row per encoded text, one column per class",
        )
    if not np.all(np.isfinite(targets)) or np.any(targets < 0):
        raise TrainingError("targets", "must be finite and >= 0", None, "pass probabilities")
    row_sums = targets.sum(axis=1)
    if not np.allclose(row_sums, 1.0, atol=1e-3):
        worst = int(np.argmax(np.abs(row_sums - 1.0)))
        raise TrainingError(
            f"targets[{worst}]", "must sum to 1", float(row_sums[worst]), "normalise each row of soft labels"
        )
    mode = config.sample_weighting
    if sample_weights is None:
        if mode is not None:
            raise TrainingError(
                "sample_weights",
                f"are required by sample_weighting {mode.value!r}",
                None,
                "pass one weight per example (uniform 1/N for the first round)",
            )
        return
    if mode is None:
        raise TrainingError(
            "sample_weights",
            "were given but sample_weighting is None (unweighted)",
            None,
            f"set sample_weighting to {' or '.join(SampleWeighting)}, or drop the weights",
        )
    if sample_weights.shape != (count,):
        raise TrainingError(
            "sample_weights", f"must have shape ({count},)", sample_weights.shape, "pass one weight per example"
        )
    if not np.all(np.isfinite(sample_weights)) or np.any(sample_weights < 0) or sample_weights.sum() <= 0:
        raise TrainingError(
            "sample_weights", "must be finite, >= 0 and not all zero", None, "pass AdaBoost's normalised weights"
        )


def _digest(array: np.ndarray | None) -> str:
    if array is None:
        return "none"
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.float64).tobytes()).hexdigest()[:16]


def run_fingerprint(
    encoded: EncodedTexts,
    targets: np.ndarray,
    config: TrainConfig,
    sample_weights: np.ndarray | None,
    total_steps: int,
    processes: int,
) -> Fingerprint:
    """What must match for a checkpoint to continue this run (the processes too: each has an RNG file)."""
    return {
        "examples": len(encoded),
        "tokens": int(encoded.token_ids.shape[0]),
        "classes": int(targets.shape[1]),
        **_run_settings(config, total_steps, processes),
        "targets": _digest(targets),
        "weights": _digest(sample_weights),
    }


def answers_fingerprint(
    answers: EncodedAnswers, config: TrainConfig, token_weights: np.ndarray | None, total_steps: int, processes: int
) -> Fingerprint:
    """`run_fingerprint` of a causal-LM run: the questions, where their answers start, and the token weights."""
    return {
        "examples": len(answers),
        "tokens": int(answers.sequences.token_ids.shape[0]),
        "answer_tokens": answers.answers.num_tokens,
        **_run_settings(config, total_steps, processes),
        "sequences": _digest(answers.sequences.token_ids.numpy()),
        "prompts": _digest(answers.prompt_lengths.numpy()),
        "weights": _digest(token_weights),
    }


def _run_settings(config: TrainConfig, total_steps: int, processes: int) -> dict[str, int | float | str]:
    return {
        "total_steps": total_steps,
        "batch_size": config.batch_size,
        "seed": config.seed,
        "lr": config.lr,
        "loss": config.loss.value,
        "sample_weighting": "none" if config.sample_weighting is None else config.sample_weighting.value,
        "group_by_length": int(config.group_by_length),
        "grad_accum": config.grad_accum,
        "processes": processes,
    }


def check_answer_inputs(answers: EncodedAnswers, config: TrainConfig, token_weights: np.ndarray | None) -> None:
    """Raise TrainingError when the token weights do not fit the answers, or the config asks for what a
    causal LM's token loss has no form of (logconf's hardened labels, resampling of questions)."""
    if config.loss is not StudentLoss.XENT:
        raise TrainingError(
            "train.loss",
            "must be xent for a causal LM (the token NLL); logconf hardens class labels",
            config.loss.value,
            "use loss: xent for task: generation",
        )
    if config.sample_weighting is SampleWeighting.RESAMPLE:
        raise TrainingError(
            "train.sample_weighting",
            "must be weighted_loss or None for a causal LM: token weights enter the loss, questions are not resampled",
            config.sample_weighting.value,
            "use sampleWeighting: weighted_loss for task: generation",
        )
    if token_weights is None:
        return
    expected = answers.answers.num_tokens
    if token_weights.shape != (expected,):
        raise TrainingError(
            "token_weights",
            f"must have shape ({expected},), one weight per answer token",
            token_weights.shape,
            "use the AnswerTokens of EncodedAnswers.answers",
        )
    if not np.all(np.isfinite(token_weights)) or np.any(token_weights < 0) or token_weights.sum() <= 0:
        raise TrainingError(
            "token_weights", "must be finite, >= 0 and not all zero", None, "pass token boosting's normalised weights"
        )
