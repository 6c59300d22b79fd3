"""One experiment as ``w2sctl`` shows it: read from the cluster or from a local run's store, typed.

:class:`ExperimentView` is what ``status``, ``get``, ``results`` and ``wait`` work on, whichever mode
the experiment runs in: the name, the typed spec (for the stage graph), the typed
:class:`~ensemw2s.operator.status_model.ExperimentStatus`, and where it was read from. On a cluster
the status is the operator's; for a local run :mod:`.local_status` builds the same model from the store.

It also tells when the operator seems not to be running: the spec's generation is ahead of
``status.observedGeneration`` (or there is no status) for longer than :data:`OPERATOR_GRACE_SECONDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ensemw2s.operator.status_model import ExperimentStatus, Phase, StagePhase, parse_status, parse_time
from ensemw2s.spec import API_GROUP, KIND, ExperimentSpec, SpecError, StageGraph, build_stage_graph, parse_spec

OPERATOR_GRACE_SECONDS = 60.0
"""How long a spec change may wait for the operator before ``status``, ``get`` and ``wait`` warn."""
FINISHED = frozenset({Phase.SUCCEEDED, Phase.FAILED, Phase.INVALID})


def object_name(name: str) -> str:
    """``ensemw2sexperiment.ensemw2s.io/NAME``: what ``-o name`` prints, as kubectl does."""
    return f"{KIND.lower()}.{API_GROUP}/{name}"


@dataclass(frozen=True)
class ExperimentView:
    name: str
    namespace: str
    status: ExperimentStatus
    spec: ExperimentSpec | None = None
    """None when the stored spec does not parse (the status then says Invalid)."""
    generation: int | None = None
    created: datetime | None = None
    changed: datetime | None = None
    """When the spec last changed (the newest non-status managedFields entry), if the server says."""
    source: str = "cluster"
    """``cluster``, or the store URL of a local run."""
    body: dict[str, Any] = field(default_factory=dict)
    """The object as the API server returned it (``get -o yaml``), managedFields left out."""

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ExperimentView:
        meta: Mapping[str, Any] = body.get("metadata") or {}
        try:
            spec: ExperimentSpec | None = parse_spec(body.get("spec"))
        except SpecError:
            spec = None
        generation = meta.get("generation")
        shown = {**body, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
        return cls(
            name=str(meta.get("name")),
            namespace=str(meta.get("namespace") or ""),
            status=parse_status(body.get("status")),
            spec=spec,
            generation=generation if isinstance(generation, int) else None,
            created=parse_time(meta.get("creationTimestamp")),
            changed=_spec_changed(meta.get("managedFields") or []),
            body=shown,
        )

    @property
    def finished(self) -> bool:
        return self.status.phase in FINISHED

    def graph(self) -> StageGraph | None:
        return None if self.spec is None else build_stage_graph(self.spec)

    def stage_phase(self, stage: str) -> str:
        """A stage's phase: its status entry's, else from the complete name lists, else ``Waiting``."""
        entry = next((s for s in self.status.stages if s.name == stage), None)
        if entry is not None:
            return entry.phase.value
        if stage in self.status.succeeded_stages:
            return StagePhase.SUCCEEDED.value
        if stage in self.status.failed_stages:
            return StagePhase.FAILED.value
        return "Waiting"

    def operator_lag(self, now: datetime | None = None, grace: float = OPERATOR_GRACE_SECONDS) -> str | None:
        """A warning when the operator has not acted on the current spec for ``grace`` seconds, else None."""
        if self.source != "cluster" or self.generation is None:
            return None
        observed = self.status.observed_generation or 0
        if observed >= self.generation:
            return None
        since = max((t for t in (self.created, self.changed) if t is not None), default=None)
        now = now or datetime.now(UTC)
        if since is None or (now - since).total_seconds() < grace:
            return None
        waited = int((now - since).total_seconds())
        seen = "no status yet" if not observed else f"status.observedGeneration {observed}"
        return (
            f"{self.namespace}/{self.name}: the operator has not acted on generation {self.generation} for {waited}s "
            f"(got {seen}); is it running? kubectl get deploy -A -l app.kubernetes.io/name=ensemw2s-operator"
        )


def _spec_changed(managed: list[Mapping[str, Any]]) -> datetime | None:
    times = [parse_time(entry.get("time")) for entry in managed if entry.get("subresource") != "status"]
    return max((t for t in times if t is not None), default=None)
