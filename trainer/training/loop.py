"""The training loop, written once: ``train_classifier`` here, ``train_causal_lm`` (`.causal_lm`) on it.

An :class:`Objective` says what a run trains for (the examples the batch plan draws from and the loss of
one micro-batch); :func:`run_training` does the rest for every objective. ``train_classifier`` fine-tunes a
classifier on soft labels, with optional example weights.

A plain loop on ``accelerate`` (CPU here, one or more GPUs or CPU processes on clusters; bf16 autocast
when supported): the deterministic batch plan is the prepared DataLoader's batch sampler, gradients are
accumulated with ``accelerator.accumulate`` (which also skips DDP's all-reduce on the micro-batches
before the last), ``accelerator.backward`` scales the loss, and checkpoints are accelerate's own state.
No host synchronisation per step except every ``log_every_steps`` steps. The classifier passed in is
trained in place and returned on the accelerator's device, in eval mode.

The loss of a micro-batch is sum_i s_i CE_i / (n / (P G)), with n the optimiser step's examples over
all P processes and G the accumulation steps: ``backward`` divides by G and DDP averages over P, so
the step's gradient is that of the batch mean (1/n) sum_i s_i CE_i whatever P and G (see losses.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from accelerate import Accelerator
from ensemw2s.spec import SampleWeighting, Schedule, StudentLoss
from torch import Tensor, nn
from torch.optim import AdamW
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import Dataset

from ..metrics import record_training
from ..models.classifier import Classifier
from .batching import BatchPlan, PlanSampler, resample_indices
from .checkpoint import Fingerprint, restore_checkpoint, save_checkpoint
from .config import TrainConfig
from .encoding import EncodedTexts
from .loader import TrainingBatch, TrainingExamples, plan_loader
from .losses import example_loss_scales, logconf_alpha, logconf_targets, per_example_cross_entropy, scaled_batch_loss
from .runtime import check_stage_accelerator, set_threads, stage_accelerator
from .validation import check_inputs, run_fingerprint


@dataclass(frozen=True)
class ProgressEvent:
    step: int  # completed optimiser steps
    total_steps: int
    epoch: float
    loss: float  # mean training loss since the previous event, over all processes
    learning_rate: float
    examples_per_second: float
    tokens_per_second: float = 0.0  # non-padding tokens (fillers excluded), over all processes
    new_examples: int = 0  # examples since the previous event, over all processes
    new_tokens: int = 0  # non-padding tokens since the previous event, over all processes


@dataclass(frozen=True)
class TrainReport:
    steps: int  # optimiser steps run by this call (excludes steps restored from a checkpoint)
    examples: int  # examples processed by this call, over all processes
    seconds: float
    examples_per_second: float
    final_loss: float  # mean loss over the last logging window (nan when no step ran)
    resumed_from_step: int  # 0 for a fresh run


def _lr_factor(schedule: Schedule, total_steps: int) -> Callable[[int], float]:
    if schedule is Schedule.CONSTANT:
        return lambda step: 1.0
    return lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))


class Objective(Protocol):
    """What one run trains for: the examples its batch plan draws from, and one micro-batch's loss.

    ``loss`` returns this process's share of the step's loss (``share``: the step's examples over all
    processes and micro-batches, divided by processes x accumulation; see the module docstring);
    ``counted_tokens`` the micro-batch's non-padding tokens (0 for a filler), as a tensor (no host sync).
    """

    @property
    def examples(self) -> Dataset[Any]: ...

    def loss(self, model: nn.Module, batch: Any, step: int, total_steps: int, share: float) -> Tensor: ...

    def counted_tokens(self, batch: Any) -> Tensor: ...


@dataclass(frozen=True)
class _ClassifierObjective:
    """Soft-target cross-entropy (or logconf), each example scaled (see losses.py)."""

    examples: TrainingExamples
    config: TrainConfig

    def loss(self, model: nn.Module, batch: TrainingBatch, step: int, total_steps: int, share: float) -> Tensor:
        logits = model(batch.input_ids, batch.attention_mask)
        soft = batch.targets
        if self.config.loss is StudentLoss.LOGCONF:
            alpha = logconf_alpha(step, total_steps, self.config.logconf_max_alpha, self.config.logconf_warmup_frac)
            soft = logconf_targets(logits, soft, alpha)
        return scaled_batch_loss(per_example_cross_entropy(logits, soft), batch.scales, share)

    def counted_tokens(self, batch: TrainingBatch) -> Tensor:
        return (batch.attention_mask.sum(dim=1) * (batch.scales != 0)).sum()


def _adamw(classifier: nn.Module, config: TrainConfig, device: torch.device) -> AdamW:
    """AdamW with the fused update where torch has it (CUDA; CPU from torch 2.4): one kernel for all
    parameters. On CPU it updates a pretrained model's 30k-row embedding table about 8x faster than the
    per-tensor loop, which halves a MiniLM student's step time."""
    parameters = [parameter for parameter in classifier.parameters() if parameter.requires_grad]  # LoRA: adapters, head
    if device.type in ("cuda", "cpu"):
        try:
            return AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay, fused=True)
        except (RuntimeError, ValueError):  # an older torch without the fused CPU kernel
            pass
    return AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)


def train_classifier(
    classifier: Classifier,
    encoded: EncodedTexts,
    targets: np.ndarray,
    config: TrainConfig,
    sample_weights: np.ndarray | None = None,
    checkpoint_dir: Path | str | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    *,
    accelerator: Accelerator | None = None,
) -> TrainReport:
    """Fine-tune ``classifier`` on ``encoded`` with soft ``targets`` (N, K); see :class:`TrainConfig`.

    ``accelerator`` is the stage's (:func:`~.runtime.stage_accelerator`); the run releases what it
    prepared on it when it ends. Without one the run makes its own. With ``checkpoint_dir`` it
    checkpoints every ``config.checkpoint_every_steps`` steps and, on start, resumes from the newest
    whole checkpoint there: a resumed run ends with the same weights as an uninterrupted one.
    ``on_progress`` is called on the main process only.
    """
    check_inputs(classifier, encoded, targets, config, sample_weights)

    def train(accelerator: Accelerator, directory: Path | None) -> TrainReport:
        return _train(accelerator, classifier, encoded, targets, config, sample_weights, directory, on_progress)

    return with_stage_accelerator(config, accelerator, checkpoint_dir, train)


def with_stage_accelerator(
    config: TrainConfig,
    accelerator: Accelerator | None,
    checkpoint_dir: Path | str | None,
    train: Callable[[Accelerator, Path | None], TrainReport],
) -> TrainReport:
    """Run ``train`` on the stage's accelerator (or an own one), releasing what the run prepared after."""
    set_threads(config.threads)
    borrowed = accelerator is not None
    if accelerator is None:
        accelerator = stage_accelerator(config)
    else:
        check_stage_accelerator(accelerator, config)
        accelerator.gradient_accumulation_steps = config.grad_accum
    try:
        directory = Path(checkpoint_dir) if checkpoint_dir is not None else None
        return train(accelerator, directory)
    finally:
        if borrowed or accelerator.device.type != "cpu":
            # Lets go of this run's prepared objects (the next run of the stage saves and loads only its
            # own) and of their device memory. Its gc.collect() is slow in a process with a large import
            # graph unless the trainer froze it (see ensemw2s.trainer.runtime); an own CPU accelerator is
            # simply dropped.
            accelerator.free_memory()


def _train(
    accelerator: Accelerator,
    classifier: Classifier,
    encoded: EncodedTexts,
    targets: np.ndarray,
    config: TrainConfig,
    sample_weights: np.ndarray | None,
    checkpoint_dir: Path | None,
    on_progress: Callable[[ProgressEvent], None] | None,
) -> TrainReport:
    torch.manual_seed(config.seed)
    pool = np.arange(len(encoded))
    if config.sample_weighting is SampleWeighting.RESAMPLE and sample_weights is not None:
        pool = resample_indices(sample_weights, config.seed)
    plan = BatchPlan(
        pool, encoded.lengths.numpy(), config.batch_size, config.epochs, config.seed, config.group_by_length
    )
    total, processes = plan.total_steps, accelerator.num_processes
    # weighted_loss: item i's loss is scaled by N w_i / sum(w), and every batch takes the plain mean: an
    # unbiased estimate of AdaBoost's objective sum_i w_i CE_i (see losses.py).
    weighted = config.sample_weighting is SampleWeighting.WEIGHTED_LOSS and sample_weights is not None
    scales = example_loss_scales(torch.as_tensor(sample_weights)) if weighted else None
    examples = TrainingExamples(encoded, torch.as_tensor(targets, dtype=torch.float32), scales)
    fingerprint = run_fingerprint(encoded, targets, config, sample_weights, total, processes)
    objective = _ClassifierObjective(examples, config)
    return run_training(accelerator, classifier, objective, plan, config, fingerprint, checkpoint_dir, on_progress)


def run_training(
    accelerator: Accelerator,
    network: nn.Module,
    objective: Objective,
    plan: BatchPlan,
    config: TrainConfig,
    fingerprint: Fingerprint,
    checkpoint_dir: Path | None,
    on_progress: Callable[[ProgressEvent], None] | None,
) -> TrainReport:
    """The loop every objective shares: prepare, resume, accumulate, clip, step, log, checkpoint.

    ``network`` is trained in place and left in eval mode; the caller seeded torch with ``config.seed``.
    """
    total, processes, accumulation = plan.total_steps, accelerator.num_processes, config.grad_accum
    optimizer = _adamw(network, config, accelerator.device)
    scheduler = LambdaLR(optimizer, _lr_factor(config.schedule, total))
    model, optimizer, loader, scheduler = accelerator.prepare(
        network, optimizer, plan_loader(objective.examples, PlanSampler(plan, processes, accumulation)), scheduler
    )

    start = restore_checkpoint(accelerator, checkpoint_dir, fingerprint) if checkpoint_dir is not None else 0
    batches = accelerator.skip_first_batches(loader, start * accumulation) if start else loader
    model.train()

    window_loss = torch.zeros((), device=accelerator.device)
    window_tokens = torch.zeros((), dtype=torch.int64, device=accelerator.device)
    step, window_steps, seen, last_loss, tokens, logged_seen = start, 0, 0, math.nan, 0, 0
    began = time.perf_counter()
    for batch in batches:
        with accelerator.accumulate(model):
            share = batch.step_size / (processes * accumulation)
            loss = objective.loss(model, batch, step, total, share)
            accelerator.backward(loss)
            if accelerator.sync_gradients and config.max_grad_norm is not None:
                accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()  # a no-op (and zero_grad too) until the step's last micro-batch
            optimizer.zero_grad(set_to_none=True)
        window_loss += loss.detach()
        window_tokens += objective.counted_tokens(batch)  # no host sync
        if not accelerator.sync_gradients:
            continue
        scheduler.step()
        step, window_steps, seen = step + 1, window_steps + 1, seen + batch.step_size
        if step % config.log_every_steps == 0 or step == total:
            # A collective: every process logs at the same steps. A step's G micro-batch losses, summed
            # and averaged over the processes, make G times the step's batch mean.
            mean = accelerator.reduce(window_loss, reduction="mean")
            last_loss = float(mean) / (window_steps * accumulation)
            new_tokens = int(accelerator.reduce(window_tokens, reduction="sum"))
            tokens += new_tokens
            if accelerator.is_main_process:
                elapsed = max(time.perf_counter() - began, 1e-9)
                event = ProgressEvent(
                    step=step,
                    total_steps=total,
                    epoch=step / plan.steps_per_epoch,
                    loss=last_loss,
                    learning_rate=float(scheduler.get_last_lr()[0]),
                    examples_per_second=seen / elapsed,
                    tokens_per_second=tokens / elapsed,
                    new_examples=seen - logged_seen,
                    new_tokens=new_tokens,
                )
                record_training(event)  # live metrics (ensemw2s.trainer.metrics), when served
                if on_progress is not None:
                    on_progress(event)
            logged_seen = seen
            window_tokens.zero_()
            window_loss.zero_()
            window_steps = 0
        every = config.checkpoint_every_steps
        if checkpoint_dir is not None and every and step % every == 0 and step < total:
            save_checkpoint(accelerator, checkpoint_dir, step, fingerprint)
    seconds = time.perf_counter() - began

    trained: nn.Module = accelerator.unwrap_model(model, keep_fp32_wrapper=False)
    trained.eval()
    return TrainReport(
        steps=total - start,
        examples=seen,
        seconds=seconds,
        examples_per_second=seen / seconds if seconds > 0 else 0.0,
        final_loss=last_loss,
        resumed_from_step=start,
    )


def one_hot_targets(labels: np.ndarray, num_labels: int) -> np.ndarray:
    """One-hot soft targets (N, K) from integer labels (N,)."""
    return np.eye(num_labels, dtype=np.float32)[np.asarray(labels, dtype=np.int64)]
