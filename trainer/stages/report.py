"""Stage ``report``: gather every seed into the results table, PGRs with intervals, effects, notes and plots."""

from __future__ import annotations

import numpy as np
from ensemw2s.spec import Stage, StageKind, StrongVariant, Task
from ensemw2s.spec.results import Metric, SeedResults

from ..method import HardTestOutcomes, above_chance, experiment_results, seed_results
from ..report.write import REPORT_MD, RESULTS_JSON, report_markdown, write_report
from .aggregate import AGGREGATE_FILE, ENSEMBLE_FILE
from .context import StageContext, StageResult
from .prepared import SPLITS, PreparedData
from .records import AggregateRecord, StudentRecord
from .strong import STUDENT_FILE, STUDENT_PREDICTIONS
from .weak import PREDICTIONS_FILE

STUDENT_FIELDS = {StrongVariant.W2S: "w2s", StrongVariant.ENSEMBLE: "ensemw2s", StrongVariant.CEILING: "ceiling"}
"""Each strong variant's `Accuracies` field."""


def _trained(context: StageContext, variant: StrongVariant, seed: int) -> bool:
    return Stage(StageKind.STRONG, seed, variant=variant) in context.keys


def _student_accuracy(context: StageContext, variant: StrongVariant, seed: int) -> float | None:
    if not _trained(context, variant, seed):
        return None
    return context.strong(variant, seed).read_model(STUDENT_FILE, StudentRecord).accuracy


def _trained_students(context: StageContext, seed: int) -> dict[StrongVariant, str]:
    return {variant: field for variant, field in STUDENT_FIELDS.items() if _trained(context, variant, seed)}


def hard_test_outcomes(context: StageContext, seed: int) -> HardTestOutcomes:
    """Which hard-test items each model of ``seed`` got right (the bootstrap's input)."""
    if context.spec.task is Task.GENERATION:
        from .generation.outcomes import generation_outcomes

        return generation_outcomes(context, seed, _trained_students(context, seed))
    labels = PreparedData(context.input(Stage(StageKind.PREPARE, seed))).labels["hard_test"]
    scores = {
        "weak": context.weak_round(0, seed).read_arrays(PREDICTIONS_FILE, "hard_test")["hard_test"],
        "weak_ensemble": context.aggregated(seed).read_arrays(ENSEMBLE_FILE, "hard_test")["hard_test"],
    }
    for variant, field in _trained_students(context, seed).items():
        scores[field] = context.strong(variant, seed).read_arrays(STUDENT_PREDICTIONS, "hard_test")["hard_test"]
    return HardTestOutcomes({name: np.argmax(probs, axis=1) == labels for name, probs in scores.items()})


def seed_results_from_store(context: StageContext, seed: int, outcomes: HardTestOutcomes) -> SeedResults:
    aggregate = context.aggregated(seed).read_model(AGGREGATE_FILE, AggregateRecord)
    return seed_results(
        seed,
        aggregate.boosting,
        w2s=_student_accuracy(context, StrongVariant.W2S, seed),
        ensemw2s=_student_accuracy(context, StrongVariant.ENSEMBLE, seed),
        ceiling=_student_accuracy(context, StrongVariant.CEILING, seed),
        stop_reason=aggregate.stop_reason,
        notes=answerability_notes(context, seed, outcomes),
    )


def answerability_notes(context: StageContext, seed: int, outcomes: HardTestOutcomes) -> list[str]:
    """Plain-language notes when this seed cannot answer the question the experiment asks."""
    spec = context.spec
    if spec.task is Task.GENERATION:
        from .generation.outcomes import generation_notes

        return generation_notes(context, seed, outcomes)
    data = PreparedData(context.input(Stage(StageKind.PREPARE, seed)))
    notes = [
        f"the {name.replace('_', '-')} split has one class only ({int(data.labels[name][0])}): accuracies on it "
        "say nothing about learning; use a dataset with both labels on every side of the split"
        for name in SPLITS
        if len(data.labels[name]) and len(np.unique(data.labels[name])) == 1
    ]
    weak_val = context.weak_round(0, seed).read_arrays(PREDICTIONS_FILE, "val")["val"]
    if not above_chance(np.argmax(weak_val, axis=1) == data.labels["val"], data.labels["val"]):
        notes.append(
            "round 0 (the single weak model) is at chance on easy val data: the weak model did not learn the "
            "easy task, so there is nothing for boosting or the students to build on; raise "
            "spec.weak.training.epochs or learningRate, or spec.dataset.sizes.easy"
        )
    if "ceiling" in outcomes.correct and not above_chance(outcomes.correct["ceiling"], data.labels["hard_test"]):
        notes.append(
            "the ceiling (the strong model trained on gold hard labels) is at chance on hard-test: the strong "
            "model did not learn the hard task with this budget, so no PGR can be read; raise "
            f"spec.strong.training.epochs (now {spec.strong.training.epochs:g}) or learningRate "
            f"(now {spec.strong.training.learning_rate:g}), or spec.dataset.sizes.hardTrain"
        )
    return notes


def run(context: StageContext) -> StageResult:
    spec = context.spec
    outcomes = [hard_test_outcomes(context, seed) for seed in spec.seeds]
    seeds = [seed_results_from_store(context, seed, o) for seed, o in zip(spec.seeds, outcomes, strict=True)]
    metric = Metric.EXACT_MATCH if spec.task is Task.GENERATION else Metric.ACCURACY
    results = experiment_results(
        context.manifest.name,
        seeds,
        outcomes,
        weak_model=spec.weak.model,
        strong_model=spec.strong.model,
        metric=metric,
    )
    write_report(results, context.workspace.directory)
    # The newest report also sits at the experiment's root, where users look first; its figure links
    # point into the report's own folder.
    context.store.write_model(RESULTS_JSON, results)
    published = context.store.stage_path(context.stage, context.keys[context.stage])
    context.store.write_bytes(REPORT_MD, report_markdown(results, published).encode())
    mean = results.mean
    metrics = {
        name: float(value)
        for name, value in (
            ("weak", mean.weak),
            ("weakEnsemble", mean.weak_ensemble),
            ("w2s", mean.w2s),
            ("ensemw2s", mean.ensemw2s),
            ("ceiling", mean.ceiling),
        )
        if value is not None
    }
    return StageResult(metrics=metrics, results=results.compact().model_dump(mode="json", by_alias=True))
