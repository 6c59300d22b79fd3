"""Decoding in the generation stages: one learner, a prefix ensemble or a student, answering prompts.

Every decode is greedy, batched and KV-cached (`ensemble_decode_ids`), stops at EOS, a newline or
``spec.generation.maxNewTokens``, and starts from the prompt ids the stage already has.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from ensemw2s.spec import ExperimentSpec, Training

from ...data.answers import score_answers
from ...data.qa import QAItem
from ...method.ensemble_decoding import DecodingSettings, EnsembleLearner, ensemble_decode_ids


def decoding_settings(spec: ExperimentSpec, training: Training) -> DecodingSettings:
    return DecodingSettings(max_new_tokens=spec.generation_settings.max_new_tokens, batch_size=training.eval_batch_size)


def answer_texts(
    learners: Sequence[EnsembleLearner], prompt_ids: Sequence[Sequence[int]], settings: DecodingSettings
) -> list[str]:
    return [answer.text for answer in ensemble_decode_ids(learners, prompt_ids, settings)]


def exact_matches(items: Sequence[QAItem], texts: Sequence[str]) -> npt.NDArray[np.bool_]:
    """Whether each answer matches its item's gold answer (normalised exact match, or the option)."""
    return np.array(score_answers(items, texts).matches, dtype=bool)
