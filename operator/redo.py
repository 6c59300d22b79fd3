"""A redo asked for on the cluster: which stages the ``ensemw2s.io/redo`` annotation names, and what follows.

``kubectl annotate w2sx NAME ensemw2s.io/redo=weak-s1-r1 --overwrite`` redoes ``weak-s1-r1`` and every
stage downstream of it (:meth:`~ensemw2s.spec.StageGraph.downstream`). Several stages are separated by
commas (``weak-s1-r1,strong-s1-w2s``). The operator acts once per value, so a second redo of the same
stages needs a new value: anything after ``@`` is ignored and makes it new (``weak-s1-r1@2``).

Every affected stage runs again with the contract's ``--redo`` (not only the named one): stage keys
are a Merkle chain of configs, not of outputs, so the downstream stages' keys do not change when an
upstream output is redone, and without ``--redo`` they would find their old outputs and skip.

Pure: no API calls. :mod:`.plan` applies a :class:`RedoRequest` to its ledger.
"""

from __future__ import annotations

from dataclasses import dataclass

from ensemw2s.spec import Stage, StageGraph, problem

from .naming import ANNOTATION_REDO

TOKEN_SEPARATOR = "@"
STAGE_SEPARATOR = ","


@dataclass(frozen=True)
class RedoRequest:
    """The stages one annotation value asks to redo."""

    value: str
    targets: tuple[Stage, ...] = ()
    """The stages it names, in graph order."""
    stages: tuple[Stage, ...] = ()
    """The named stages and everything downstream of them, in graph order."""
    refusal: str | None = None
    """Why nothing is redone (a name that is no stage of the experiment); None when accepted."""


def stage_names(value: str) -> list[str]:
    """The stage names of an annotation value: ``"weak-s1-r1, report@2"`` -> ``["weak-s1-r1", "report"]``."""
    names = value.split(TOKEN_SEPARATOR, 1)[0]
    return [name.strip() for name in names.split(STAGE_SEPARATOR) if name.strip()]


def redo_request(value: str, graph: StageGraph) -> RedoRequest:
    """What ``value`` asks for in ``graph``; refused as a whole when any name is not a stage of it."""
    names = stage_names(value)
    known = {stage.name: stage for stage in graph.stages}
    unknown = [name for name in names if name not in known]
    if not names or unknown:
        example = graph.stages[0].name if graph.stages else "weak-s1-r0"
        refusal = str(
            problem(
                f"metadata.annotations.{ANNOTATION_REDO}",
                "must name stages of this experiment, separated by commas",
                ", ".join(unknown) if unknown else value,
                f"use names from status.succeededStages, e.g. {example}",
            )
        )
        return RedoRequest(value, refusal=refusal)
    targets = {known[name] for name in names}
    affected = set(targets)
    for stage in targets:
        affected |= graph.downstream(stage)
    order = {stage: i for i, stage in enumerate(graph.stages)}
    return RedoRequest(
        value,
        targets=tuple(sorted(targets, key=order.__getitem__)),
        stages=tuple(sorted(affected, key=order.__getitem__)),
    )


def redo_message(request: RedoRequest) -> str:
    """``redoing weak-s1-r1 and the 3 stages downstream of it: aggregate-s1, ... (ensemw2s.io/redo=...)``."""
    targets = [stage.name for stage in request.targets]
    downstream = [stage.name for stage in request.stages if stage not in request.targets]
    text = f"redoing {', '.join(targets)}"
    if downstream:
        plural = "stage" if len(downstream) == 1 else f"{len(downstream)} stages"
        text += f" and the {plural} downstream: {', '.join(downstream)}"
    return f"{text} ({ANNOTATION_REDO}={request.value})"


__all__ = ["RedoRequest", "redo_message", "redo_request", "stage_names"]
