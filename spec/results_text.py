"""How results read as text: one formatter per kind of number, shared by the report, the CLI and the operator."""

from __future__ import annotations

from .results import Effect, Interval

NOT_MEASURED = "not measured: no seed has the accuracies it compares"


def format_accuracy(value: float | None) -> str:
    """Three decimals (``0.655``), or ``n/a``."""
    return "n/a" if value is None else f"{value:.3f}"


def format_pgr(value: float | None) -> str:
    """``n/a`` for an undefined PGR, else two decimals (``0.47``)."""
    return "n/a" if value is None else f"{value:.2f}"


def format_interval(interval: Interval | None) -> str:
    """``[0.12, 0.55]``, or ``-`` when there is none."""
    if interval is None or interval.low is None or interval.high is None:
        return "-"
    return f"[{interval.low:.2f}, {interval.high:.2f}]"


def format_pgr_with_interval(value: float | None, interval: Interval | None) -> str:
    """``0.36 [0.12, 0.55]``, ``0.36`` without an interval, ``n/a`` when undefined."""
    text = format_pgr(value)
    if value is None or interval is None or interval.low is None or interval.high is None:
        return text
    return f"{text} {format_interval(interval)}"


def format_difference(difference: Interval) -> str:
    """``+2.4 pts [95% CI -0.3, +5.1]`` (accuracy points), or ``+2.4 pts (one seed: no interval)``."""
    text = f"{100 * difference.estimate:+.1f} pts"
    if difference.low is None or difference.high is None:
        return f"{text} (one seed: no interval)"
    return f"{text} [95% CI {100 * difference.low:+.1f}, {100 * difference.high:+.1f}]"


def describe_effect(effect: Effect) -> str:
    """One line: ``EnsemW2S > W2S: holds; +6.6 pts [95% CI ...] (0.672 -> 0.739); better in 4 of 5 seeds, 1 tie``."""
    if effect.of == 0:
        return f"{effect.name}: {NOT_MEASURED}"
    counts = f"better in {effect.better} of {effect.of} seeds"
    if effect.ties:
        counts += f", {effect.ties} tie{'s' if effect.ties != 1 else ''}"
    return f"{effect.name}: {effect.verdict}; {effect.detail}; {counts}"
