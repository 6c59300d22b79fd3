"""The three effects the product reports, counted over seeds.

1. ``weak ensemble > single weak``: the boosted ensemble beats round 0 on hard-test.
2. ``students > supervisors``: W2S beats the weak model and EnsemW2S beats the weak ensemble.
3. ``EnsemW2S >= W2S``: the student of the ensemble is at least as good as the plain W2S student.

A seed counts toward ``of`` only when it has every accuracy the effect compares.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ensemw2s.spec.results import Effect, SeedResults

WEAK_ENSEMBLE_BEATS_WEAK = "weak ensemble > single weak"
STUDENTS_BEAT_SUPERVISORS = "students > supervisors"
ENSEMW2S_MATCHES_W2S = "EnsemW2S >= W2S"
NOT_MEASURED = "not measured: no seed has the accuracies it compares"

_Pair = tuple[float, float]


def summarise_effects(seeds: Sequence[SeedResults]) -> list[Effect]:
    """The three effects, each with how many seeds show it and the mean numbers behind it."""
    ensembles: list[_Pair] = []
    students: list[tuple[_Pair, _Pair]] = []
    student_rivals: list[_Pair] = []
    for seed in seeds:
        a = seed.accuracies
        ensemble = _pair(a.weak, a.weak_ensemble)
        w2s = _pair(a.weak, a.w2s)
        ensemw2s = _pair(a.weak_ensemble, a.ensemw2s)
        rivals = _pair(a.w2s, a.ensemw2s)
        if ensemble is not None:
            ensembles.append(ensemble)
        if w2s is not None and ensemw2s is not None:
            students.append((w2s, ensemw2s))
        if rivals is not None:
            student_rivals.append(rivals)
    return [
        Effect(
            name=WEAK_ENSEMBLE_BEATS_WEAK,
            seen_in=sum(after > before for before, after in ensembles),
            of=len(ensembles),
            detail=_mean_change(ensembles),
        ),
        Effect(
            name=STUDENTS_BEAT_SUPERVISORS,
            seen_in=sum(w[1] > w[0] and e[1] > e[0] for w, e in students),
            of=len(students),
            detail=(
                f"W2S {_mean_change([w for w, _ in students])} over weak; "
                f"EnsemW2S {_mean_change([e for _, e in students])} over weak ensemble"
            )
            if students
            else NOT_MEASURED,
        ),
        Effect(
            name=ENSEMW2S_MATCHES_W2S,
            seen_in=sum(after >= before for before, after in student_rivals),
            of=len(student_rivals),
            detail=_mean_change(student_rivals),
        ),
    ]


def _pair(before: float | None, after: float | None) -> _Pair | None:
    return None if before is None or after is None else (before, after)


def _mean_change(pairs: Sequence[_Pair]) -> str:
    """``+2.4 pts mean (0.612 -> 0.636)``."""
    if not pairs:
        return NOT_MEASURED
    before, after = (float(x) for x in np.mean(np.asarray(pairs), axis=0))
    return f"{100 * (after - before):+.1f} pts mean ({before:.3f} -> {after:.3f})"
