"""Results as a markdown report: accuracies with PGRs and intervals, effects, per-round detail and notes."""

from __future__ import annotations

from collections.abc import Sequence

from ensemw2s.spec.results import Accuracies, ExperimentResults, Metric, PGRIntervals, PGRs, PrefixAccuracy, SeedResults
from ensemw2s.spec.results_text import describe_effect, format_accuracy, format_pgr_with_interval

NOT_APPLICABLE = "-"
PGR_NOTE = (
    "Hard-test {metric}. PGR = (student - supervisor) / (ceiling - supervisor) with a 95% bootstrap interval "
    "(hard-test items, and seeds for the mean); n/a when the ceiling-supervisor gap is inside the test set's noise."
)


def results_table(results: ExperimentResults) -> str:
    """The whole report: models, mean over seeds, effects, notes, then each seed with its rounds and notes."""
    count = len(results.seeds)
    lines = [f"# EnsemW2S results: {results.experiment}", ""]
    if results.weak_model or results.strong_model:
        lines += [f"Weak model: `{results.weak_model}`; strong model: `{results.strong_model}`.", ""]
    lines += [f"## Mean over {count} seed{'s' if count != 1 else ''}", ""]
    lines += accuracy_table(
        results.mean, results.mean_pgr, "weak ensemble (r chosen per seed)", results.mean_pgr_interval, results.metric
    )
    lines += ["", PGR_NOTE.format(metric=results.metric.label), ""]
    lines += ["## Effects", ""]
    lines += [
        "Each effect is a strict comparison on hard-test: the mean paired difference over seeds with a 95% "
        "paired-t interval; it *holds* when the interval excludes 0.",
        "",
    ]
    lines += [f"- {describe_effect(effect)}" for effect in results.effects] or ["- none computed"]
    if results.notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in results.notes)]
    for seed in results.seeds:
        lines += ["", *seed_section(seed, results.metric)]
    return "\n".join(lines) + "\n"


def short_label(metric: Metric) -> str:
    """The metric in a column header: ``acc`` or ``EM``."""
    return "acc" if metric is Metric.ACCURACY else "EM"


def criterion_label(metric: Metric) -> str:
    """What r is chosen by on val: the prefix ensemble's Brier score, or its answer-token log-loss."""
    return "Brier score" if metric is Metric.ACCURACY else "answer-token log-loss"


def seed_section(seed: SeedResults, metric: Metric = Metric.ACCURACY) -> list[str]:
    """One seed: accuracies and PGRs, the per-round table, why boosting stopped, notes."""
    lines = [f"## Seed {seed.seed}", ""]
    lines += accuracy_table(
        seed.accuracies, seed.pgr, f"weak ensemble (r={seed.chosen_round})", seed.pgr_interval, metric
    )
    lines += [
        "",
        f"Ensemble size r = {seed.chosen_round}, chosen on val by the lowest {criterion_label(metric)} "
        "(ties: larger r).",
    ]
    if seed.stop_reason is not None:
        lines.append(f"Boosting stopped early: {seed.stop_reason}.")
    lines += ["", "### Rounds", "", *rounds_table(seed, metric)]
    if seed.notes:
        lines += ["", "### Notes", "", *(f"- {note}" for note in seed.notes)]
    return lines


def accuracy_table(
    accuracies: Accuracies,
    pgrs: PGRs,
    ensemble_label: str,
    intervals: PGRIntervals | None = None,
    metric: Metric = Metric.ACCURACY,
) -> list[str]:
    """Rows weak, weak ensemble, W2S, EnsemW2S, ceiling; PGR vs weak and vs the weak ensemble, with intervals."""
    spans = intervals or PGRIntervals()
    pgr = format_pgr_with_interval

    rows = [
        ("weak (round 0)", accuracies.weak, NOT_APPLICABLE, NOT_APPLICABLE),
        (ensemble_label, accuracies.weak_ensemble, NOT_APPLICABLE, NOT_APPLICABLE),
        ("W2S", accuracies.w2s, pgr(pgrs.w2s_vs_weak, spans.w2s_vs_weak), NOT_APPLICABLE),
        (
            "EnsemW2S",
            accuracies.ensemw2s,
            pgr(pgrs.ensemw2s_vs_weak, spans.ensemw2s_vs_weak),
            pgr(pgrs.ensemw2s_vs_ensemble, spans.ensemw2s_vs_ensemble),
        ),
        ("ceiling", accuracies.ceiling, NOT_APPLICABLE, NOT_APPLICABLE),
    ]
    return _markdown(
        ["model", f"hard-test {short_label(metric)}", "PGR vs weak [95% CI]", "PGR vs weak ensemble [95% CI]"],
        [[name, format_accuracy(value), vs_weak, vs_ensemble] for name, value, vs_weak, vs_ensemble in rows],
    )


def format_alpha(alpha: float | None) -> str:
    """Three decimals, or ``whole weight`` for a learner with no measured error."""
    return "whole weight" if alpha is None else f"{alpha:.3f}"


def rounds_table(seed: SeedResults, metric: Metric = Metric.ACCURACY) -> list[str]:
    """Round t's learner beside the prefix ensemble of the first t+1 learners."""
    size = max(len(seed.rounds), len(seed.prefix))
    if size == 0:
        return ["No per-round detail in these results (compact form)."]
    body: list[list[str]] = []
    for index in range(size):
        round_ = seed.rounds[index] if index < len(seed.rounds) else None
        prefix = seed.prefix[index] if index < len(seed.prefix) else None
        chosen = prefix is not None and prefix.rounds == seed.chosen_round
        body.append(
            [
                str(round_.round) if round_ else str(index),
                f"{round_.eps:.4f}" if round_ else "",
                format_alpha(round_.alpha) if round_ else "",
                format_accuracy(round_.val_accuracy) if round_ else "",
                format_accuracy(round_.hard_test_accuracy) if round_ else "",
                (f"{prefix.rounds} (chosen)" if chosen else str(prefix.rounds)) if prefix else "",
                _criterion(prefix),
                format_accuracy(prefix.val) if prefix else "",
                format_accuracy(prefix.hard_test) if prefix else "",
                "yes" if round_ and round_.degenerate else "",
            ]
        )
    short = short_label(metric)
    criterion = "Brier" if metric is Metric.ACCURACY else "log-loss"
    return _markdown(
        [
            "round",
            "eps",
            "alpha",
            f"val {short}",
            f"hard-test {short}",
            "prefix r",
            f"prefix val {criterion}",
            f"prefix val {short}",
            f"prefix hard-test {short}",
            "degenerate",
        ],
        body,
    )


def _criterion(prefix: PrefixAccuracy | None) -> str:
    value = None if prefix is None else prefix.val_criterion
    return "" if value is None else f"{value:.4f}"


def _markdown(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in [header, *body]) for column in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    return [line(header), "|" + "|".join("-" * (width + 2) for width in widths) + "|", *map(line, body)]
