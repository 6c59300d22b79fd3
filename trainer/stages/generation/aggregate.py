"""Stage ``aggregate`` of ``task: generation``: every prefix ensemble decoded, r chosen on val, pseudo-answers.

The prefix ensemble F_r mixes the first r learners' next-token distributions with their alphas
(`ensemble_decode_ids`, greedy). r is chosen on val (easy side, never test) by a criterion that does not
saturate: the mean negative log-probability of val's gold answer tokens under F_r's mixture, teacher
forced, which follows exactly from each learner's stored gold-token probabilities (the mixture of the
probabilities is the probability of the mixture); ties go to the larger r. Every prefix's exact match
on val and hard-test is reported; F_r writes the pseudo-answers of hard-train. F_1 is round 0 alone,
whose answers its round already wrote.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from ensemw2s.spec import RoundSelection
from ensemw2s.spec.results import PrefixAccuracy, RoundSummary

from ...method import BoostingSummary
from ...method.aggregation import lowest_last, prefix_weights
from ...method.boosting import degenerate_note
from ...models.causal_lm import load_ensemble_learners
from ..aggregate import kept_rounds
from ..context import StageContext, StageResult
from ..records import AggregateRecord
from .decoding import answer_texts, decoding_settings, exact_matches
from .prepared import PreparedQuestionData
from .records import GeneratedAnswers
from .weak import ANSWERS_FILE, LEARNER_DIR, SCORES_FILE

AGGREGATE_FILE = "aggregate.json"
ENSEMBLE_SCORES_FILE = "ensemble.npz"
"""hard_test_correct: whether F_r's answer to each hard-test question is right."""
DECODED_SPLITS = ("val", "hard_test")


def prefix_log_loss(gold_probabilities: npt.NDArray[np.float64], alphas: list[float | None]) -> list[float]:
    """-mean log sum_t w_rt p_t(gold token) over the val answer tokens, for r = 1 .. T.

    ``gold_probabilities``: (T, M), learner t's probability of each gold token under teacher forcing.
    """
    mixture = prefix_weights(alphas) @ np.asarray(gold_probabilities, dtype=np.float64)
    return [float(-np.mean(np.log(np.clip(row, np.finfo(np.float64).tiny, None)))) for row in mixture]


def run(context: StageContext) -> StageResult:
    spec = context.spec
    data = PreparedQuestionData(context.prepared())
    kept, learners, stop_reason = kept_rounds(context)
    outputs = [context.weak_round(r.round) for r in kept]
    scores = [o.read_arrays(SCORES_FILE, "val_correct", "hard_test_correct", "val_gold_probabilities") for o in outputs]
    round0 = outputs[0].read_model(ANSWERS_FILE, GeneratedAnswers)
    alphas = [learner.alpha for learner in learners]
    losses = prefix_log_loss(np.stack([s["val_gold_probabilities"] for s in scores]), alphas)
    chosen = len(kept) if spec.ensemble.round_selection is RoundSelection.LAST else lowest_last(np.array(losses))

    texts: dict[int, dict[str, list[str]]] = {1: {name: round0.texts(name, "round 0") for name in DECODED_SPLITS}}
    correct: dict[int, dict[str, npt.NDArray[np.bool_]]] = {
        1: {name: scores[0][f"{name}_correct"].astype(bool) for name in DECODED_SPLITS}
    }
    weights = prefix_weights(alphas)
    pseudo = round0.texts("hard_train", "round 0")
    if len(kept) > 1:
        context.progress.stage_started(context.stage.name, f"decoding {len(kept) - 1} prefix ensembles")
        ensemble = load_ensemble_learners([o.local_directory(LEARNER_DIR) for o in outputs], alphas)
        settings = decoding_settings(spec, spec.weak.training)
        prompts = {name: data.answers(name).prompt_ids() for name in DECODED_SPLITS}  # once for every prefix
        for r in range(2, len(kept) + 1):
            if np.array_equal(weights[r - 1], weights[r - 2]):  # a whole-weight learner decides both
                texts[r], correct[r] = texts[r - 1], correct[r - 1]
                continue
            texts[r] = {name: answer_texts(ensemble[:r], prompts[name], settings) for name in DECODED_SPLITS}
            correct[r] = {name: exact_matches(data.questions[name], texts[r][name]) for name in DECODED_SPLITS}
        if chosen > 1 and not np.array_equal(weights[chosen - 1], weights[0]):
            context.progress.stage_started(context.stage.name, f"pseudo-answers of hard-train with r = {chosen}")
            pseudo = answer_texts(ensemble[:chosen], data.answers("hard_train").prompt_ids(), settings)

    boosting = BoostingSummary(
        rounds=[
            RoundSummary(
                round=t,
                eps=learner.eps,
                alpha=learner.alpha,
                val_accuracy=learner.val_accuracy,
                hard_test_accuracy=learner.hard_test_accuracy,
                degenerate=learner.degenerate,
                note=degenerate_note(t) if learner.degenerate else None,
            )
            for t, learner in enumerate(learners)
        ],
        prefix=[
            PrefixAccuracy(
                rounds=r,
                val=float(correct[r]["val"].mean()),
                hard_test=float(correct[r]["hard_test"].mean()),
                val_log_loss=losses[r - 1],
            )
            for r in range(1, len(kept) + 1)
        ],
        chosen_round=chosen,
        notes=[degenerate_note(t) for t, learner in enumerate(learners) if learner.degenerate],
    )
    pseudo_correct = exact_matches(data.questions["hard_train"], pseudo)
    context.workspace.write_arrays(ENSEMBLE_SCORES_FILE, hard_test_correct=correct[chosen]["hard_test"])
    context.workspace.write_model(
        ANSWERS_FILE,
        GeneratedAnswers(val=texts[chosen]["val"], hard_test=texts[chosen]["hard_test"], hard_train=pseudo),
    )
    context.workspace.write_model(AGGREGATE_FILE, AggregateRecord(boosting=boosting, stop_reason=stop_reason))
    return StageResult(
        metrics={
            "chosenRound": float(chosen),
            "learners": float(len(kept)),
            "weakAccuracy": boosting.rounds[0].hard_test_accuracy,  # exact match, under classification's names
            "weakEnsembleAccuracy": float(correct[chosen]["hard_test"].mean()),
            "pseudoLabelAccuracy": float(pseudo_correct.mean()),
        },
        notes=[*boosting.notes, *([stop_reason] if stop_reason else [])],
    )
