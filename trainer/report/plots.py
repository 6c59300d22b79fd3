"""Figures of the results, as PNG files; matplotlib is imported only when a figure is drawn.

Drawn with the Agg canvas on a standalone `Figure` (no pyplot): no global state, no display.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from ensemw2s.spec.results import ExperimentResults, Metric, PrefixAccuracy
from ensemw2s.trainer.files import write_atomically
from ensemw2s.trainer.method.intervals import mean_interval

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ACCURACY_LABELS = ("weak", "weak ensemble", "W2S", "EnsemW2S", "ceiling")
_ACCURACY_FIELDS = ("weak", "weak_ensemble", "w2s", "ensemw2s", "ceiling")


def plot_accuracy_by_round(results: ExperimentResults, path: Path) -> Path:
    """Per seed, against r: prefix-ensemble accuracy on val and hard-test, and the val Brier score r is chosen by.

    The dashed line of each seed is its single weak model (r = 1); a star marks the r chosen on val.
    """
    figure = _new_figure(width=14.0, height=4.0)
    panels = figure.subplots(1, 3)
    colors = _colors(len(results.seeds))
    drawn = False
    for seed, color in zip(results.seeds, colors, strict=True):
        if not seed.prefix:
            continue
        drawn = True
        r = [prefix.rounds for prefix in seed.prefix]
        series = (
            [prefix.val for prefix in seed.prefix],
            [prefix.hard_test for prefix in seed.prefix],
            [_criterion(prefix) for prefix in seed.prefix],
        )
        for panel, values in zip(panels, series, strict=True):
            panel.plot(r, values, marker="o", color=color, label=f"seed {seed.seed}")
            panel.axhline(values[0], color=color, linestyle="--", linewidth=0.8)
            if seed.chosen_round in r:
                chosen = r.index(seed.chosen_round)
                panel.plot(r[chosen], values[chosen], marker="*", markersize=14, color=color)
    metric = results.metric.label
    criterion = "val Brier score" if results.metric is Metric.ACCURACY else "val answer-token log-loss"
    titles = (f"{metric} on val (easy side)", f"{metric} on hard-test", f"{criterion} (chooses r; lower is better)")
    for panel, title in zip(panels, titles, strict=True):
        panel.set_title(title, fontsize="medium")
        panel.set_xlabel("r (learners in the ensemble)")
        panel.grid(alpha=0.3)
        if not drawn:
            panel.text(0.5, 0.5, "no per-round data", ha="center", va="center", transform=panel.transAxes)
        elif panel.xaxis.get_major_locator() is not None:
            panel.xaxis.get_major_locator().set_params(integer=True)
    panels[0].set_ylabel(metric)
    if drawn:
        handles, labels = panels[0].get_legend_handles_labels()
        figure.legend(
            handles,
            labels,
            loc="outside right upper",
            title="dashed: r = 1\nstar: chosen r",
            fontsize="small",
            title_fontsize="small",
        )
    figure.suptitle(results.experiment)
    return _save(figure, path)


def _criterion(prefix: PrefixAccuracy) -> float:
    return np.nan if prefix.val_criterion is None else prefix.val_criterion


def plot_accuracies(results: ExperimentResults, path: Path) -> Path:
    """The five hard-test accuracies: a bar for the mean over seeds with its 95% t interval, a dot per seed."""
    figure = _new_figure(width=7.0, height=4.0)
    axes = figure.subplots()
    positions = np.arange(len(_ACCURACY_FIELDS))
    means = [getattr(results.mean, field) for field in _ACCURACY_FIELDS]
    per_seed = [
        [value for seed in results.seeds if (value := getattr(seed.accuracies, field)) is not None]
        for field in _ACCURACY_FIELDS
    ]
    intervals = [mean_interval(values) if len(values) > 1 else None for values in per_seed]
    bounds = [bound for i in intervals if i is not None for bound in (i.low, i.high) if bound is not None]
    measured = [value for value in means if value is not None] + [v for values in per_seed for v in values] + bounds
    low = max(0.0, min(measured) - 0.05) if measured else 0.0
    high = min(1.0, max(measured) + 0.05) if measured else 1.0
    axes.bar(
        positions,
        [0.0 if mean is None else mean - low for mean in means],
        bottom=low,
        color="#9ecae1",
        edgecolor="#3182bd",
    )
    for position, mean, values, interval in zip(positions, means, per_seed, intervals, strict=True):
        offsets = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else np.zeros(len(values))
        axes.scatter(position + offsets, values, color="#08306b", s=18, zorder=3)
        if mean is not None and interval is not None and interval.low is not None and interval.high is not None:
            low_end, high_end = max(0.0, interval.low), min(1.0, interval.high)  # accuracies live in [0, 1]
            axes.errorbar(
                [float(position)],
                [mean],
                yerr=[[mean - low_end], [high_end - mean]],
                color="#d62728",
                capsize=6,
                linewidth=1.5,
                zorder=4,
            )
        label = "n/a" if mean is None else f"{mean:.3f}"
        axes.text(float(position), low + 0.005, label, ha="center", va="bottom", fontsize="small")
    axes.set_xticks(positions, ACCURACY_LABELS)
    axes.set_ylim(low, high + 0.02)
    axes.set_ylabel(f"hard-test {results.metric.label}")
    axes.set_title(
        f"{results.experiment}: mean over {len(results.seeds)} seeds (red: 95% interval; dots: seeds)",
        fontsize="medium",
    )
    axes.grid(axis="y", alpha=0.3)
    return _save(figure, path)


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _colors(count: int) -> list[tuple[float, float, float, float]]:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return [palette(index % 10) for index in range(count)]


def _save(figure: Figure, path: Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    written: Path = write_atomically(Path(path), buffer.getvalue())
    return written
