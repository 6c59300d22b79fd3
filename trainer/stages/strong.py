"""Stage ``strong --variant ensemble|w2s|ceiling``: fine-tune the strong model on hard-train labels.

- ``ensemble`` (EnsemW2S): the chosen prefix ensemble's labels;
- ``w2s`` (Burns et al.): round 0's labels (round 0 is the single weak supervisor);
- ``ceiling``: the gold labels, always with cross-entropy (whatever ``spec.strong.loss`` says).
``spec.strong.pseudoLabels`` (soft or hard) applies to both students alike. All three start from the
same pretrained weights and seed, so they differ only in their labels (and the ceiling in its loss).
The labels fed to the student are kept in ``targets.npz``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ensemw2s.spec import LabelKind, StrongVariant

from ..method import harden
from ..training import predict_proba, stage_accelerator, train_classifier
from .aggregate import ENSEMBLE_FILE
from .context import StageContext, StageResult
from .prepared import PreparedData, Role
from .records import StudentRecord
from .training_config import strong_train_config
from .weak import PREDICTIONS_FILE

STUDENT_FILE = "student.json"
STUDENT_PREDICTIONS = "preds.npz"
TARGETS_FILE = "targets.npz"
STUDENT_DIR = "student"
"""With ``spec.strong.lora``: the student's adapters and head (``LoadedClassifier.load`` or plain peft reads them)."""


def student_targets(context: StageContext, data: PreparedData) -> np.ndarray:
    """The hard-train labels this stage's student learns from (N, K)."""
    variant = context.stage.variant
    if variant is StrongVariant.CEILING:
        return data.onehot("hard_train")
    if variant is StrongVariant.W2S:
        soft = context.weak_round(0).read_arrays(PREDICTIONS_FILE, "hard_train")["hard_train"]
    else:
        soft = context.aggregated().read_arrays(ENSEMBLE_FILE, "hard_train")["hard_train"]
    labels = harden(soft) if context.spec.strong.pseudo_labels is LabelKind.HARD else soft
    targets: np.ndarray = np.asarray(labels, dtype=np.float32)
    return targets


def run(context: StageContext) -> StageResult:
    from ..models.lora import load_trainable

    spec, seed = context.spec, context.seed
    data = PreparedData(context.prepared())
    variant = context.stage.variant
    assert variant is not None
    targets = student_targets(context, data)
    context.progress.stage_started(
        context.stage.name, f"training {spec.strong.model} on {context.stage.variant} labels"
    )
    strong = spec.strong
    student = load_trainable(
        strong.model,
        data.num_classes,
        data.corpus,
        seed,
        strong.head,
        strong.lora,
        base_seed=seed,
        field="spec.strong.model",
    )

    def on_progress(event: Any) -> None:
        context.progress.advance(context.stage.name, int(event.step), int(event.total_steps), "")

    config = strong_train_config(spec, seed, variant)
    report = train_classifier(
        student.model,
        data.tokens(Role.STRONG, "hard_train"),
        targets,
        config,
        sample_weights=None,
        checkpoint_dir=context.workspace.checkpoints,
        on_progress=on_progress,
        accelerator=stage_accelerator(config),  # the stage's one Accelerator
    )
    probs = predict_proba(student.model, data.tokens(Role.STRONG, "hard_test"), spec.strong.training.eval_batch_size)
    labels = data.labels["hard_test"]
    accuracy = float(np.mean(np.argmax(probs, axis=1) == labels))
    agreement = float(np.mean(np.argmax(targets, axis=1) == data.labels["hard_train"]))
    context.workspace.write_arrays(STUDENT_PREDICTIONS, hard_test=probs)
    context.workspace.write_arrays(TARGETS_FILE, hard_train=targets)
    if strong.lora is not None:
        student.save(context.workspace.directory / STUDENT_DIR)
    record = StudentRecord(
        variant=variant,
        accuracy=accuracy,
        label_accuracy=agreement,
        examples_per_second=report.examples_per_second,
        resumed_from_step=report.resumed_from_step,
    )
    context.workspace.write_model(STUDENT_FILE, record)
    return StageResult(
        metrics={
            "accuracy": accuracy,
            "labelAccuracy": agreement,
            "examplesPerSecond": float(report.examples_per_second),
        }
    )
