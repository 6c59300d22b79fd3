"""Stage ``strong --variant ensemble|w2s|ceiling`` of ``task: generation``: supervised fine-tuning of the student.

- ``ensemble`` (EnsemW2S): the chosen prefix ensemble's answers to the hard-train questions;
- ``w2s`` (Burns et al.): round 0's answers (round 0 is the single weak supervisor);
- ``ceiling``: the gold answers.
All three start from the same pretrained weights and seed, learn the answer tokens (prompt masked) with
the plain mean NLL, and answer hard-test greedily; the metric is exact match. A pseudo-answer is written
as a gold answer is (one leading space, one line, then the newline that ends it), so the students see
the same format as the ceiling; an empty pseudo-answer teaches the student to stop at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ensemw2s.spec import StrongVariant

from ...data.qa import ANSWER_END, one_line
from ...method.ensemble_decoding import EnsembleLearner
from ...models.causal_lm import load_causal_lm
from ...training import stage_accelerator, train_causal_lm
from ...training.answer_encoding import encode_answers, encode_questions
from ..context import StageContext, StageResult
from ..records import StudentRecord
from ..strong import STUDENT_DIR, STUDENT_FILE
from ..training_config import strong_train_config
from .decoding import answer_texts, decoding_settings, exact_matches
from .prepared import PreparedQuestionData
from .records import GeneratedAnswers
from .weak import ANSWERS_FILE

STUDENT_SCORES_FILE = "scores.npz"
"""hard_test_correct: whether the student's answer to each hard-test question is right."""


def pseudo_target(text: str) -> str:
    """A decoded answer as a training target: `QAItem.target`'s format (" answer" + newline)."""
    answer = one_line(text)
    return (f" {answer}" if answer else "") + ANSWER_END


def student_targets(context: StageContext, data: PreparedQuestionData) -> list[str]:
    """The hard-train targets this stage's student learns to write."""
    variant = context.stage.variant
    if variant is StrongVariant.CEILING:
        return [item.target for item in data.questions["hard_train"]]
    source = context.weak_round(0) if variant is StrongVariant.W2S else context.aggregated()
    texts = source.read_model(ANSWERS_FILE, GeneratedAnswers).texts("hard_train", source.stage.name)
    return [pseudo_target(text) for text in texts]


def run(context: StageContext) -> StageResult:
    spec, seed = context.spec, context.seed
    data = PreparedQuestionData(context.prepared())
    variant = context.stage.variant
    assert variant is not None
    targets = student_targets(context, data)
    strong = spec.strong
    context.progress.stage_started(context.stage.name, f"fine-tuning {strong.model} on {variant} answers")
    student = load_causal_lm(strong.model, data.corpus, seed, strong.lora, base_seed=seed, field="spec.strong.model")
    length = strong.training.max_length
    hard_train, hard_test = data.questions["hard_train"], data.questions["hard_test"]
    encoded = encode_answers(student.tokenizer, [q.prompt for q in hard_train], targets, length)

    def on_progress(event: Any) -> None:
        context.progress.advance(context.stage.name, int(event.step), int(event.total_steps), "")

    config = strong_train_config(spec, seed, variant)
    report = train_causal_lm(
        student.model,
        encoded,
        config,
        checkpoint_dir=context.workspace.checkpoints,
        on_progress=on_progress,
        accelerator=stage_accelerator(config),  # the stage's one Accelerator
    )
    context.progress.stage_started(context.stage.name, "answering hard-test")
    prompts = encode_questions(student.tokenizer, [q.prompt for q in hard_test], length)
    learner = EnsembleLearner(context.stage.name, student.model, student.tokenizer, None)
    texts = answer_texts([learner], prompts, decoding_settings(spec, strong.training))
    correct = exact_matches(hard_test, texts)
    agreement = exact_matches(hard_train, [target.removesuffix(ANSWER_END) for target in targets])
    context.workspace.write_arrays(STUDENT_SCORES_FILE, hard_test_correct=correct)
    context.workspace.write_model(ANSWERS_FILE, GeneratedAnswers(hard_test=texts, hard_train=targets))
    if strong.lora is not None:
        student.save(context.workspace.directory / STUDENT_DIR)
    record = StudentRecord(
        variant=variant,
        accuracy=float(np.mean(correct)),
        label_accuracy=float(np.mean(agreement)),
        examples_per_second=report.examples_per_second,
        resumed_from_step=report.resumed_from_step,
    )
    context.workspace.write_model(STUDENT_FILE, record)
    return StageResult(
        metrics={
            "accuracy": record.accuracy,  # exact match, under classification's metric names
            "labelAccuracy": record.label_accuracy,
            "examplesPerSecond": float(report.examples_per_second),
        }
    )
