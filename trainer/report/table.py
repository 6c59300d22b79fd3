"""Results as a markdown report: accuracies with PGRs, per-round detail, effects and notes."""

from __future__ import annotations

from collections.abc import Sequence

from ensemw2s.spec.results import Accuracies, ExperimentResults, PGRs, SeedResults
from ensemw2s.trainer.method.pgr import MIN_GAP, format_pgr

NOT_APPLICABLE = "-"


def results_table(results: ExperimentResults) -> str:
    """The whole report: mean over seeds, effects, then each seed with its rounds and notes."""
    count = len(results.seeds)
    lines = [f"# EnsemW2S results: {results.experiment}", ""]
    lines += [f"## Mean over {count} seed{'s' if count != 1 else ''}", ""]
    lines += accuracy_table(results.mean, results.mean_pgr, "weak ensemble (r chosen per seed)")
    lines += ["", f"Hard-test accuracy. PGR is n/a when ceiling - supervisor < {MIN_GAP:g} (no gap to recover).", ""]
    lines += ["## Effects", ""]
    lines += [
        f"- {effect.name}: seen in {effect.seen_in} of {effect.of} seeds ({effect.detail})"
        for effect in results.effects
    ] or ["- none computed"]
    for seed in results.seeds:
        lines += ["", *seed_section(seed)]
    return "\n".join(lines) + "\n"


def seed_section(seed: SeedResults) -> list[str]:
    """One seed: accuracies and PGRs, the per-round table, why boosting stopped, notes."""
    lines = [f"## Seed {seed.seed}", ""]
    lines += accuracy_table(seed.accuracies, seed.pgr, f"weak ensemble (r={seed.chosen_round})")
    lines += ["", f"Ensemble size r = {seed.chosen_round}, chosen on val."]
    if seed.stop_reason is not None:
        lines.append(f"Boosting stopped early: {seed.stop_reason}.")
    lines += ["", "### Rounds", "", *rounds_table(seed)]
    if seed.notes:
        lines += ["", "### Notes", "", *(f"- {note}" for note in seed.notes)]
    return lines


def accuracy_table(accuracies: Accuracies, pgrs: PGRs, ensemble_label: str) -> list[str]:
    """Rows weak, weak ensemble, W2S, EnsemW2S, ceiling; PGR vs weak and vs the weak ensemble."""
    rows = [
        ("weak (round 0)", accuracies.weak, NOT_APPLICABLE, NOT_APPLICABLE),
        (ensemble_label, accuracies.weak_ensemble, NOT_APPLICABLE, NOT_APPLICABLE),
        ("W2S", accuracies.w2s, format_pgr(pgrs.w2s_vs_weak), NOT_APPLICABLE),
        (
            "EnsemW2S",
            accuracies.ensemw2s,
            format_pgr(pgrs.ensemw2s_vs_weak),
            format_pgr(pgrs.ensemw2s_vs_ensemble),
        ),
        ("ceiling", accuracies.ceiling, NOT_APPLICABLE, NOT_APPLICABLE),
    ]
    return _markdown(
        ["model", "hard-test acc", "PGR vs weak", "PGR vs weak ensemble"],
        [[name, _accuracy(value), vs_weak, vs_ensemble] for name, value, vs_weak, vs_ensemble in rows],
    )


def rounds_table(seed: SeedResults) -> list[str]:
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
                f"{round_.alpha:.3f}" if round_ else "",
                _accuracy(round_.val_accuracy) if round_ else "",
                _accuracy(round_.hard_test_accuracy) if round_ else "",
                (f"{prefix.rounds} (chosen)" if chosen else str(prefix.rounds)) if prefix else "",
                _accuracy(prefix.val) if prefix else "",
                _accuracy(prefix.hard_test) if prefix else "",
                "yes" if round_ and round_.degenerate else "",
            ]
        )
    return _markdown(
        [
            "round",
            "eps",
            "alpha",
            "val acc",
            "hard-test acc",
            "prefix r",
            "prefix val",
            "prefix hard-test",
            "degenerate",
        ],
        body,
    )


def _accuracy(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _markdown(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in [header, *body]) for column in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    return [line(header), "|" + "|".join("-" * (width + 2) for width in widths) + "|", *map(line, body)]
