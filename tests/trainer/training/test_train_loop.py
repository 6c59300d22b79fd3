from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from ensemw2s.trainer.training import (
    ProgressEvent,
    TrainConfig,
    TrainingError,
    TrainReport,
    latest_checkpoint,
    predict_proba,
    stage_accelerator,
    train_classifier,
)
from ensemw2s.trainer.training.checkpoint import RECORD_FILE
from torch import nn

FAST = TrainConfig(epochs=3, batch_size=16, lr=2e-3, threads=1, max_length=32, seed=11)


def _no_dropout(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    return model


def _accuracy(task, classifier) -> float:
    return float(np.mean(predict_proba(classifier, task.encoded, 64).argmax(axis=1) == task.labels))


def _weights_equal(a: nn.Module, b: nn.Module, atol: float = 0.0) -> bool:
    return all(torch.allclose(x, y, rtol=0, atol=atol) for x, y in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize("model", ["tiny-weak", "tiny-strong"])
def test_learns_the_task(model: str, task_factory) -> None:
    task = task_factory(count=128, model=model)
    config = TrainConfig(**{**FAST.__dict__, "epochs": 10})
    report = train_classifier(task.loaded.model, task.encoded, task.targets, config)
    assert report.steps == 80 and report.examples == 10 * 128 and report.resumed_from_step == 0
    assert report.examples_per_second > 0 and np.isfinite(report.final_loss)
    assert not task.loaded.model.training
    assert _accuracy(task, task.loaded.model) >= 0.85


def test_progress_events_every_log_interval(task) -> None:
    events: list[ProgressEvent] = []
    config = TrainConfig(epochs=2, batch_size=16, threads=1, log_every_steps=5)
    train_classifier(task.loaded.model, task.encoded, task.targets, config, on_progress=events.append)
    assert [event.step for event in events] == [5, 10, 12]
    assert events[-1].total_steps == 12 and events[-1].epoch == pytest.approx(2.0)
    assert events[-1].learning_rate == pytest.approx(0.0, abs=1e-12)  # cosine to zero, no warm-up
    assert all(np.isfinite(event.loss) and event.examples_per_second > 0 for event in events)


def test_constant_schedule_keeps_the_learning_rate(task) -> None:
    events: list[ProgressEvent] = []
    config = TrainConfig(epochs=1, batch_size=32, lr=1e-3, schedule="constant", threads=1)
    train_classifier(task.loaded.model, task.encoded, task.targets, config, on_progress=events.append)
    assert events[-1].learning_rate == pytest.approx(1e-3)


class Killed(Exception):
    pass


RESUMABLE = TrainConfig(
    epochs=10 / 6, batch_size=16, lr=2e-3, threads=1, checkpoint_every_steps=2, log_every_steps=1, seed=3
)  # 96 examples / 16 = 6 steps per epoch -> 10 steps, checkpoints at 2, 4, 6, 8


def _killed_at_step_5(task_factory, directory: Path) -> None:
    first = task_factory()

    def kill_at_step_5(event: ProgressEvent) -> None:
        if event.step == 5:
            raise Killed

    with pytest.raises(Killed):
        train_classifier(first.loaded.model, first.encoded, first.targets, RESUMABLE, None, directory, kill_at_step_5)


@pytest.fixture(scope="module")
def uninterrupted():
    from .conftest import make_task

    whole = make_task()
    report = train_classifier(whole.loaded.model, whole.encoded, whole.targets, RESUMABLE)
    assert report.steps == 10
    return whole


def _resume_and_compare(task_factory, directory: Path, whole) -> TrainReport:
    torch.manual_seed(999)  # the resumed process's RNG is wherever; the checkpoint restores it
    second = task_factory()
    resumed = train_classifier(second.loaded.model, second.encoded, second.targets, RESUMABLE, None, directory)
    np.testing.assert_allclose(
        predict_proba(second.loaded.model, second.encoded, 64),
        predict_proba(whole.loaded.model, whole.encoded, 64),
        rtol=1e-5,
        atol=1e-6,
    )
    assert _weights_equal(second.loaded.model, whole.loaded.model, atol=1e-6)
    return resumed


def test_resumed_run_ends_with_the_same_weights(task_factory, tmp_path: Path, uninterrupted) -> None:
    _killed_at_step_5(task_factory, tmp_path)
    checkpoint = latest_checkpoint(tmp_path)
    assert checkpoint is not None and checkpoint.name.endswith("000000004")
    kept = sorted(path.name for path in tmp_path.iterdir())
    assert kept == ["step-000000002", "step-000000004"]  # the newest two; temporaries renamed
    record = json.loads((checkpoint / RECORD_FILE).read_text())
    assert record["step"] == 4 and record["fingerprint"]["processes"] == 1
    assert {"model.safetensors", "optimizer.bin", "scheduler.bin", "random_states_0.pkl"} <= set(record["files"])
    assert all(info["size"] == (checkpoint / name).stat().st_size for name, info in record["files"].items())

    resumed = _resume_and_compare(task_factory, tmp_path, uninterrupted)
    assert resumed.resumed_from_step == 4 and resumed.steps == 6


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {
    "truncated weights": ("model.safetensors", _truncate, "model.safetensors has"),
    "corrupted optimiser": ("optimizer.bin", _flip_a_byte, "optimizer.bin does not match the SHA-256"),
    "missing RNG state": ("random_states_0.pkl", Path.unlink, "random_states_0.pkl is missing"),
    "unreadable record": (RECORD_FILE, lambda path: path.write_text("{not json"), "checkpoint.json is missing or"),
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_damaged_newest_checkpoint_is_discarded_for_the_one_before(
    task_factory, tmp_path: Path, uninterrupted, caplog, damage
) -> None:
    name, harm, message = damage
    _killed_at_step_5(task_factory, tmp_path)
    harm(tmp_path / "step-000000004" / name)
    with caplog.at_level(logging.WARNING):
        resumed = _resume_and_compare(task_factory, tmp_path, uninterrupted)
    assert resumed.resumed_from_step == 2 and resumed.steps == 8
    [warning] = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert "step-000000004" in warning and message in warning
    assert warning.endswith("discarded, training resumes from step-000000002")


def test_every_checkpoint_damaged_restarts_from_the_start(task_factory, tmp_path: Path, uninterrupted, caplog) -> None:
    _killed_at_step_5(task_factory, tmp_path)
    for checkpoint in tmp_path.glob("step-*"):
        _truncate(checkpoint / "model.safetensors")
    (tmp_path / ".tmp-step-000000006").mkdir()  # an interrupted save's leftovers
    with caplog.at_level(logging.WARNING):
        resumed = _resume_and_compare(task_factory, tmp_path, uninterrupted)
    assert resumed.resumed_from_step == 0 and resumed.steps == 10
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 2 and all(w.endswith("training resumes from the start") for w in warnings)
    assert not (tmp_path / ".tmp-step-000000006").exists()


def test_checkpoint_of_another_run_is_refused(task_factory, tmp_path: Path) -> None:
    config = TrainConfig(epochs=1, batch_size=16, threads=1, checkpoint_every_steps=2)
    task = task_factory()
    train_classifier(task.loaded.model, task.encoded, task.targets, config, checkpoint_dir=tmp_path)
    other = task_factory()
    with pytest.raises(TrainingError, match=r"checkpoint_dir: .* belongs to a different run \(differs in: seed\)"):
        train_classifier(
            other.loaded.model,
            other.encoded,
            other.targets,
            TrainConfig(**{**config.__dict__, "seed": 5}),
            checkpoint_dir=tmp_path,
        )


def test_uniform_weighted_loss_equals_plain_training(task_factory) -> None:
    plain, weighted = task_factory(), task_factory()
    train_classifier(plain.loaded.model, plain.encoded, plain.targets, FAST)
    config = TrainConfig(**{**FAST.__dict__, "sample_weighting": "weighted_loss"})
    weights = np.full(len(weighted.texts), 7.0)  # the scale does not matter
    train_classifier(weighted.loaded.model, weighted.encoded, weighted.targets, config, weights)
    assert _weights_equal(plain.loaded.model, weighted.loaded.model, atol=1e-6)


def test_zero_weight_examples_have_no_influence(task_factory) -> None:
    config = TrainConfig(**{**FAST.__dict__, "sample_weighting": "weighted_loss"})
    weights = np.ones(96)
    weights[::3] = 0.0
    clean, corrupted = task_factory(), task_factory()
    targets = corrupted.targets.copy()
    targets[::3] = targets[::3, ::-1]  # flip the zero-weight examples' labels
    train_classifier(_no_dropout(clean.loaded.model), clean.encoded, clean.targets, config, weights)
    train_classifier(_no_dropout(corrupted.loaded.model), corrupted.encoded, targets, config, weights)
    assert _weights_equal(clean.loaded.model, corrupted.loaded.model, atol=1e-6)


def test_gradient_accumulation_does_not_change_the_result(task_factory) -> None:
    config = TrainConfig(**{**FAST.__dict__, "sample_weighting": "weighted_loss", "epochs": 1})
    weights = np.random.default_rng(0).random(96)
    one, four = task_factory(), task_factory()
    train_classifier(_no_dropout(one.loaded.model), one.encoded, one.targets, config, weights)
    config4 = TrainConfig(**{**config.__dict__, "grad_accum": 4})
    train_classifier(_no_dropout(four.loaded.model), four.encoded, four.targets, config4, weights)
    assert _weights_equal(one.loaded.model, four.loaded.model, atol=1e-5)


@pytest.mark.parametrize(
    ("batch_size", "grad_accum"),
    [(40, 4), (44, 11)],  # 96 = 40 + 40 + 16: uneven pieces; 96 = 44 + 44 + 8: 8 pieces of one and 3 fillers
    ids=["short-last-batch", "fillers"],
)
def test_accumulation_over_short_batches_changes_nothing(task_factory, batch_size: int, grad_accum: int) -> None:
    config = TrainConfig(
        **{**FAST.__dict__, "sample_weighting": "weighted_loss", "epochs": 1, "batch_size": batch_size}
    )
    weights = np.random.default_rng(1).random(96)
    one, many = task_factory(), task_factory()
    train_classifier(_no_dropout(one.loaded.model), one.encoded, one.targets, config, weights)
    accumulated = TrainConfig(**{**config.__dict__, "grad_accum": grad_accum})
    report = train_classifier(_no_dropout(many.loaded.model), many.encoded, many.targets, accumulated, weights)
    assert report.steps == 3 and report.examples == 96
    assert _weights_equal(one.loaded.model, many.loaded.model, atol=1e-5)


def test_resample_draws_by_weight(task) -> None:
    weights = (task.labels == 1).astype(np.float64)  # only class-1 examples are ever drawn
    config = TrainConfig(**{**FAST.__dict__, "sample_weighting": "resample", "epochs": 2})
    train_classifier(task.loaded.model, task.encoded, task.targets, config, weights)
    assert np.all(predict_proba(task.loaded.model, task.encoded, 64).argmax(axis=1) == 1)


def test_logconf_without_confidence_is_plain_cross_entropy(task_factory) -> None:
    xent, logconf, confident = task_factory(), task_factory(), task_factory()
    config = TrainConfig(**{**FAST.__dict__, "epochs": 1})
    train_classifier(xent.loaded.model, xent.encoded, xent.targets, config)
    zero = TrainConfig(**{**config.__dict__, "loss": "logconf", "logconf_max_alpha": 0.0})
    train_classifier(logconf.loaded.model, logconf.encoded, logconf.targets, zero)
    assert _weights_equal(xent.loaded.model, logconf.loaded.model, atol=1e-6)
    half = TrainConfig(**{**config.__dict__, "loss": "logconf", "logconf_warmup_frac": 0.0})
    report = train_classifier(confident.loaded.model, confident.encoded, confident.targets, half)
    assert np.isfinite(report.final_loss) and not _weights_equal(xent.loaded.model, confident.loaded.model, 1e-4)


@pytest.mark.parametrize(
    ("mode", "weights", "targets", "message"),
    [
        (None, None, np.ones((96, 3)) / 3, r"targets: must have shape \(examples, classes\) = \(96, 2\)"),
        (None, None, np.full((96, 2), 0.7), r"targets\[0\]: must sum to 1 \(got 1.4"),
        (None, None, np.full((96, 2), np.nan), r"targets: must be finite and >= 0"),
        ("weighted_loss", None, None, r"sample_weights: are required by sample_weighting 'weighted_loss'"),
        (None, np.ones(96), None, r"sample_weights: were given but sample_weighting is None \(unweighted\)"),
        ("resample", np.ones(95), None, r"sample_weights: must have shape \(96,\) \(got \(95,\)\)"),
        ("resample", np.zeros(96), None, r"sample_weights: must be finite, >= 0 and not all zero"),
        ("weighted_loss", -np.ones(96), None, r"sample_weights: must be finite, >= 0"),
    ],
)
def test_invalid_inputs(task, mode, weights, targets, message) -> None:
    config = TrainConfig(epochs=1, threads=1, sample_weighting=mode)
    with pytest.raises(TrainingError, match=message):
        train_classifier(task.loaded.model, task.encoded, task.targets if targets is None else targets, config, weights)


def test_runs_of_one_stage_share_its_accelerator_and_checkpoint_only_their_own_objects(
    task_factory, tmp_path: Path
) -> None:
    config = TrainConfig(epochs=1, batch_size=16, threads=1, checkpoint_every_steps=2)
    accelerator = stage_accelerator(config)
    for run in ("full", "fold-0"):
        task = task_factory()
        train_classifier(
            task.loaded.model,
            task.encoded,
            task.targets,
            config,
            checkpoint_dir=tmp_path / run,
            accelerator=accelerator,
        )
        checkpoint = latest_checkpoint(tmp_path / run)
        assert checkpoint is not None
        assert not list(checkpoint.glob("model_1*")), "the previous run's model was released, not saved again"


def test_a_run_on_an_accelerator_of_another_precision_is_refused(task) -> None:
    accelerator = stage_accelerator(TrainConfig())
    other = "bf16" if accelerator.mixed_precision == "no" else "no"
    config = TrainConfig(epochs=1, threads=1, mixed_precision=other)
    with pytest.raises(TrainingError, match=r"train.mixed_precision: this process already trains under"):
        train_classifier(task.loaded.model, task.encoded, task.targets, config, accelerator=accelerator)


def test_an_accelerator_that_steps_the_scheduler_itself_is_refused(task) -> None:
    from accelerate import Accelerator

    accelerator = Accelerator(mixed_precision=stage_accelerator(TrainConfig()).mixed_precision)
    with pytest.raises(TrainingError, match=r"accelerator: steps the scheduler with the optimiser; make the stage"):
        train_classifier(task.loaded.model, task.encoded, task.targets, FAST, accelerator=accelerator)


def test_a_checkpoint_of_another_layout_is_discarded_and_training_starts_over(
    task_factory, tmp_path: Path, caplog
) -> None:
    """strong.nodes may change on a running experiment: the checkpoint cannot carry over, the stage can."""
    _killed_at_step_5(task_factory, tmp_path)
    task = task_factory()
    relaid = TrainConfig(**{**RESUMABLE.__dict__, "grad_accum": 2})
    with caplog.at_level(logging.WARNING):
        report = train_classifier(task.loaded.model, task.encoded, task.targets, relaid, None, tmp_path)
    assert report.resumed_from_step == 0 and report.steps == 10
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert all(
        "written for another layout (grad_accum 1 -> 2); discarded, training resumes from the start" in w
        for w in warnings
    )
