"""Stage ``prepare`` of ``task: generation``: load the questions, split them, tokenise once for the weak models.

Writes ``questions.json`` (every split's prompts, gold answers and options) and the weak tokenizer's
prompt + answer ids per split, which every weak round and the aggregate stage reuse.
"""

from __future__ import annotations

import numpy as np

from ...data.qa_splits import load_question_splits
from ...preflight import check_preflight
from ..context import StageContext, StageResult
from .prepared import encode_weak_answers, save_prepared_questions
from .records import SPLITS


def run(context: StageContext) -> StageResult:
    spec, seed = context.spec, context.seed
    dataset = spec.dataset
    # Every data and model problem of this seed at once, before the weak rounds (permanent errors).
    check_preflight(spec.model_copy(update={"seeds": [seed]}))
    context.progress.stage_started(context.stage.name, f"loading {dataset.source or dataset.name}")
    splits = load_question_splits(dataset, seed, spec.generation_settings.choice_answer)
    questions = {name: list(splits.by_name(name)) for name in SPLITS}
    context.progress.stage_started(context.stage.name, "tokenising once for the weak models")
    encoded = encode_weak_answers(spec, questions)
    save_prepared_questions(context.workspace, questions, encoded)
    return StageResult(
        metrics={
            **{f"{name}Examples": float(len(questions[name])) for name in SPLITS},
            "easyAnswerTokens": float(np.sum(encoded["easy"].answers.lengths)),
        }
    )
