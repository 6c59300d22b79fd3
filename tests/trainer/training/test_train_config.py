from __future__ import annotations

import pytest
from ensemw2s.spec import MixedPrecision, SampleWeighting, Schedule, StudentLoss
from ensemw2s.trainer.training import TrainConfig, TrainingError


def test_defaults_follow_the_authors() -> None:
    config = TrainConfig()
    assert config.schedule is Schedule.COSINE and config.batch_size == 32
    assert config.loss is StudentLoss.XENT and config.logconf_max_alpha == 0.5
    assert config.logconf_warmup_frac == 0.1 and config.mixed_precision is MixedPrecision.AUTO
    assert config.sample_weighting is None  # unweighted


def test_strings_and_spec_enums_become_enums() -> None:
    config = TrainConfig(
        schedule="constant", loss="logconf", sample_weighting=SampleWeighting.RESAMPLE, mixed_precision="bf16"
    )
    assert config.schedule is Schedule.CONSTANT and config.loss is StudentLoss.LOGCONF
    assert config.sample_weighting is SampleWeighting.RESAMPLE and config.mixed_precision is MixedPrecision.BF16
    assert TrainConfig(sample_weighting="weighted_loss").sample_weighting is SampleWeighting.WEIGHTED_LOSS


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 0}, r"train.epochs: must be > 0 \(got 0\)"),
        ({"epochs": float("nan")}, r"train.epochs: must be > 0"),
        ({"batch_size": 0}, r"train.batch_size: must be >= 1"),
        ({"lr": -1.0}, r"train.lr: must be > 0"),
        ({"weight_decay": -0.1}, r"train.weight_decay: must be >= 0"),
        ({"max_length": 1}, r"train.max_length: must be >= 2"),
        ({"logconf_max_alpha": 2.0}, r"train.logconf_max_alpha: must be in \[0, 1\]"),
        ({"logconf_warmup_frac": -0.5}, r"train.logconf_warmup_frac: must be in \[0, 1\]"),
        ({"checkpoint_every_steps": -1}, r"train.checkpoint_every_steps: must be >= 0"),
        ({"threads": 0}, r"train.threads: must be >= 1 or None"),
        ({"grad_accum": 0}, r"train.grad_accum: must be >= 1"),
        ({"log_every_steps": 0}, r"train.log_every_steps: must be >= 1"),
        ({"max_grad_norm": 0.0}, r"train.max_grad_norm: must be > 0 or None"),
        ({"batch_size": 10, "grad_accum": 3}, r"train.grad_accum: must divide batch_size \(10\) \(got 3\)"),
        ({"schedule": "linear"}, r"train.schedule: must be one of cosine, constant \(got 'linear'\)"),
        ({"loss": "mse"}, r"train.loss: must be one of xent, logconf"),
        (
            {"sample_weighting": "boost"},
            r"train.sample_weighting: must be one of weighted_loss, resample or None \(unweighted\)",
        ),
        ({"mixed_precision": "fp8"}, r"train.mixed_precision: must be one of auto, no, bf16, fp16"),
    ],
)
def test_invalid_values_name_the_field(changes: dict[str, object], message: str) -> None:
    with pytest.raises(TrainingError, match=message):
        TrainConfig(**changes)  # type: ignore[arg-type]
