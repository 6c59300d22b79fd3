"""Experiment results as rows for the output sink: the paper's table, PGRs and the three effects."""

from __future__ import annotations

from ensemw2s.spec.results import Accuracies, ExperimentResults, PGRs

from .output import Rows


def _acc(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _pgr(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def results_rows(results: ExperimentResults) -> Rows:
    mean: Accuracies = results.mean
    pgr: PGRs = results.mean_pgr
    seeds = results.seeds
    rows = [
        ["weak (round 0)", _acc(mean.weak), "", ""],
        ["weak ensemble", _acc(mean.weak_ensemble), "", ""],
        ["W2S student", _acc(mean.w2s), _pgr(pgr.w2s_vs_weak), ""],
        ["EnsemW2S student", _acc(mean.ensemw2s), _pgr(pgr.ensemw2s_vs_weak), _pgr(pgr.ensemw2s_vs_ensemble)],
        ["ceiling", _acc(mean.ceiling), "", ""],
    ]
    per_seed = [
        " ".join(_acc(getattr(s.accuracies, field)) for s in seeds)
        for field in ("weak", "weak_ensemble", "w2s", "ensemw2s", "ceiling")
    ]
    footer = [""] + [f"{e.name}: seen in {e.seen_in} of {e.of} seeds ({e.detail})" for e in results.effects]
    footer += [
        f"seed {s.seed}: chosen r = {s.chosen_round}" + (f"; {s.stop_reason}" if s.stop_reason else "") for s in seeds
    ]
    for s in seeds:
        footer += [f"seed {s.seed}: {note}" for note in s.notes]
    return Rows(
        columns=["model", "hard-test acc", "PGR vs weak", "PGR vs ensemble"],
        rows=rows,
        wide_columns=[f"per seed ({' '.join(str(s.seed) for s in seeds)})"],
        wide_rows=[[v] for v in per_seed],
        names=[results.experiment],
        raw=results.model_dump(mode="json", by_alias=True),
        title=f"{results.experiment}: mean over {len(seeds)} seed(s), accuracies on hard-test",
        footer=footer,
    )
