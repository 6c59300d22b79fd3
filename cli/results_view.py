"""Experiment results as rows for the output sink: the paper's table, PGRs with intervals and the effects."""

from __future__ import annotations

from ensemw2s.spec.results import Accuracies, ExperimentResults, Metric, PGRIntervals, PGRs
from ensemw2s.spec.results_text import describe_effect, format_accuracy, format_pgr_with_interval

from .output import Rows


def results_rows(results: ExperimentResults) -> Rows:
    mean: Accuracies = results.mean
    pgr: PGRs = results.mean_pgr
    spans: PGRIntervals = results.mean_pgr_interval
    seeds = results.seeds
    exact = results.metric is Metric.EXACT_MATCH
    short, measured = ("EM", "exact match") if exact else ("acc", "accuracies")
    rows = [
        ["weak (round 0)", format_accuracy(mean.weak), "", ""],
        ["weak ensemble", format_accuracy(mean.weak_ensemble), "", ""],
        ["W2S student", format_accuracy(mean.w2s), format_pgr_with_interval(pgr.w2s_vs_weak, spans.w2s_vs_weak), ""],
        [
            "EnsemW2S student",
            format_accuracy(mean.ensemw2s),
            format_pgr_with_interval(pgr.ensemw2s_vs_weak, spans.ensemw2s_vs_weak),
            format_pgr_with_interval(pgr.ensemw2s_vs_ensemble, spans.ensemw2s_vs_ensemble),
        ],
        ["ceiling", format_accuracy(mean.ceiling), "", ""],
    ]
    per_seed = [
        " ".join(format_accuracy(getattr(s.accuracies, field)) for s in seeds) for field in Accuracies.model_fields
    ]
    footer = [""]
    if results.weak_model or results.strong_model:
        footer.append(f"weak model {results.weak_model}, strong model {results.strong_model}")
    footer += [describe_effect(effect) for effect in results.effects]
    footer += results.notes
    footer += [
        f"seed {s.seed}: chosen r = {s.chosen_round}" + (f"; {s.stop_reason}" if s.stop_reason else "") for s in seeds
    ]
    for s in seeds:
        footer += [f"seed {s.seed}: {note}" for note in s.notes]
    return Rows(
        columns=["model", f"hard-test {short}", "PGR vs weak [95% CI]", "PGR vs ensemble [95% CI]"],
        rows=rows,
        wide_columns=[f"per seed ({' '.join(str(s.seed) for s in seeds)})"],
        wide_rows=[[v] for v in per_seed],
        names=[results.experiment],
        raw=results.model_dump(mode="json", by_alias=True),
        title=f"{results.experiment}: mean over {len(seeds)} seed(s), {measured} on hard-test",
        footer=footer,
    )
