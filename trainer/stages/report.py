"""Stage ``report``: gather every seed into the results table, PGRs, effects and plots."""

from __future__ import annotations

from ensemw2s.spec import StrongVariant
from ensemw2s.spec.results import SeedResults

from ..method import experiment_results, seed_results
from ..report.write import write_report
from .aggregate import AGGREGATE_FILE, boosting_from_json
from .context import StageContext, StageResult
from .strong import STUDENT_FILE


def _student_accuracy(context: StageContext, variant: StrongVariant, seed: int) -> float | None:
    from ensemw2s.spec import Stage, StageKind

    if Stage(StageKind.STRONG, seed, variant=variant) not in context.keys:
        return None
    return float(context.strong(variant, seed).read_json(STUDENT_FILE)["accuracy"])


def seed_results_from_store(context: StageContext, seed: int) -> SeedResults:
    boosting, stop_reason = boosting_from_json(context.aggregated(seed).read_json(AGGREGATE_FILE))
    return seed_results(
        seed,
        boosting,
        w2s=_student_accuracy(context, StrongVariant.W2S, seed),
        ensemw2s=_student_accuracy(context, StrongVariant.ENSEMBLE, seed),
        ceiling=_student_accuracy(context, StrongVariant.CEILING, seed),
        stop_reason=stop_reason,
    )


def run(context: StageContext) -> StageResult:
    seeds = [seed_results_from_store(context, seed) for seed in context.spec.seeds]
    results = experiment_results(context.manifest.name, seeds)
    files = write_report(results, context.workspace.directory)
    # The newest report also sits at the experiment's root, where users look first.
    context.store.write_json("results.json", results.model_dump(mode="json", by_alias=True))
    context.store.fs.pipe_file(f"{context.store.root}/report.md", files.table_md.read_bytes())
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
