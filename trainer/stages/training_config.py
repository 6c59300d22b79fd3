"""From the spec's training section to the training loop's config."""

from __future__ import annotations

from ensemw2s.spec import ExperimentSpec, SampleWeighting, StrongVariant, StudentLoss, Training

from ..training.config import TrainConfig


def _config(training: Training, spec: ExperimentSpec, seed: int, **extra: object) -> TrainConfig:
    return TrainConfig(
        epochs=training.epochs,
        batch_size=training.batch_size,
        lr=training.learning_rate,
        weight_decay=training.weight_decay,
        schedule=training.schedule,
        max_length=training.max_length,
        seed=seed,
        checkpoint_every_steps=training.checkpoint_every_steps,
        mixed_precision=spec.runtime.mixed_precision,
        threads=spec.runtime.threads,
        **extra,  # type: ignore[arg-type]
    )


def weak_train_config(spec: ExperimentSpec, seed: int, weighting: SampleWeighting | None = None) -> TrainConfig:
    return _config(spec.weak.training, spec, seed, sample_weighting=weighting)


def strong_train_config(spec: ExperimentSpec, seed: int, variant: StrongVariant) -> TrainConfig:
    """The students train with ``spec.strong.loss``; the ceiling always with cross-entropy on gold labels."""
    loss = StudentLoss.XENT if variant is StrongVariant.CEILING else spec.strong.loss
    return _config(spec.strong.training, spec, seed, loss=loss)
