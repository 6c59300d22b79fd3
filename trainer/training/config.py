"""``TrainConfig``: every knob of one fine-tuning run, validated when built.

Its closed choices are the spec's own enums (``Schedule``, ``StudentLoss``, ``SampleWeighting``,
``MixedPrecision``); strings are accepted and converted, so a config can be written by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from ensemw2s.spec import MixedPrecision, SampleWeighting, Schedule, StudentLoss

from .errors import TrainingError


@dataclass(frozen=True)
class TrainConfig:
    """One fine-tuning run.

    ``batch_size`` is the global optimiser batch, whatever the number of processes; each process's share
    of it is split into ``grad_accum`` micro-batches (memory only: the loss is the same).
    ``sample_weighting`` None trains unweighted; ``weighted_loss`` takes the batch mean of N w_i CE_i (an
    unbiased estimate of sum_i w_i CE_i); ``resample`` draws N indices with replacement, p = w.
    """

    epochs: float = 2.0
    batch_size: int = 32
    lr: float = 5e-5
    weight_decay: float = 0.0
    schedule: Schedule = Schedule.COSINE  # cosine without warm-up, as the authors
    max_length: int = 128
    seed: int = 1029
    loss: StudentLoss = StudentLoss.XENT
    logconf_max_alpha: float = 0.5
    logconf_warmup_frac: float = 0.1
    sample_weighting: SampleWeighting | None = None
    checkpoint_every_steps: int = 0  # 0 = never
    mixed_precision: MixedPrecision = MixedPrecision.AUTO
    threads: int | None = None  # torch CPU threads; None = available cores (affinity and cgroup limit)
    grad_accum: int = 1
    group_by_length: bool = True  # batches of similar length, batch order shuffled
    log_every_steps: int = 10  # on_progress cadence (each call synchronises the device once)
    max_grad_norm: float | None = None

    def __post_init__(self) -> None:
        kinds: tuple[tuple[str, type[StrEnum]], ...] = (
            ("schedule", Schedule),
            ("loss", StudentLoss),
            ("sample_weighting", SampleWeighting),
            ("mixed_precision", MixedPrecision),
        )
        for name, kind in kinds:
            value = getattr(self, name)
            if value is None and name == "sample_weighting":
                continue
            try:
                object.__setattr__(self, name, kind(value))
            except ValueError:
                allowed = ", ".join(str(member.value) for member in kind)
                if name == "sample_weighting":
                    allowed += " or None (unweighted)"
                raise TrainingError(f"train.{name}", f"must be one of {allowed}", value) from None
        self._check_ranges()

    def _check_ranges(self) -> None:
        checks: tuple[tuple[str, bool, str], ...] = (
            ("epochs", math.isfinite(self.epochs) and self.epochs > 0, "must be > 0"),
            ("batch_size", self.batch_size >= 1, "must be >= 1"),
            ("lr", math.isfinite(self.lr) and self.lr > 0, "must be > 0"),
            ("weight_decay", self.weight_decay >= 0, "must be >= 0"),
            ("max_length", self.max_length >= 2, "must be >= 2"),
            ("logconf_max_alpha", 0 <= self.logconf_max_alpha <= 1, "must be in [0, 1]"),
            ("logconf_warmup_frac", 0 <= self.logconf_warmup_frac <= 1, "must be in [0, 1]"),
            ("checkpoint_every_steps", self.checkpoint_every_steps >= 0, "must be >= 0 (0 = never)"),
            ("threads", self.threads is None or self.threads >= 1, "must be >= 1 or None (all cores)"),
            ("grad_accum", self.grad_accum >= 1, "must be >= 1"),
            ("log_every_steps", self.log_every_steps >= 1, "must be >= 1"),
            ("max_grad_norm", self.max_grad_norm is None or self.max_grad_norm > 0, "must be > 0 or None"),
        )
        for name, ok, rule in checks:
            if not ok:
                raise TrainingError(f"train.{name}", rule, getattr(self, name))
        if self.batch_size % self.grad_accum:
            raise TrainingError(
                "train.grad_accum",
                f"must divide batch_size ({self.batch_size})",
                self.grad_accum,
                "choose a divisor of the batch size",
            )
