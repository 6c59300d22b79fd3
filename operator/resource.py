"""The experiment resource as the API returns it, read once into the typed models.

``manifest_from_body`` gives the spec's :class:`~ensemw2s.spec.ExperimentManifest` (the operator's own
bookkeeping annotations left out), ``status_of`` the :class:`~.status_model.ExperimentStatus`. Nothing
after these reads the body's spec or status by key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ensemw2s.spec import API_GROUP, KIND, ExperimentManifest, parse_manifest

from .plan import EventSpec
from .settings import KOPF_PREFIX
from .status_model import ExperimentStatus, Phase, parse_status

OPERATIONAL_ANNOTATIONS = (f"{KOPF_PREFIX}/", "kopf.zalando.org/", "kubectl.kubernetes.io/")
"""Annotations that are bookkeeping, not the user's: left out of the manifest the Jobs receive."""
FINISHED_PHASES = frozenset({Phase.SUCCEEDED, Phase.FAILED, Phase.INVALID})

EventSink = Callable[[Mapping[str, Any], EventSpec], None]
"""Posts an Event on the experiment (Kopf's ``kopf.event`` in the operator, a list in tests)."""


def manifest_from_body(body: Mapping[str, Any]) -> ExperimentManifest:
    """The typed manifest of a custom resource as the API returns it (server-set metadata dropped)."""
    meta: Mapping[str, Any] = body.get("metadata") or {}
    annotations = {
        key: value
        for key, value in (meta.get("annotations") or {}).items()
        if not key.startswith(OPERATIONAL_ANNOTATIONS)
    }
    return parse_manifest(
        {
            "apiVersion": body.get("apiVersion"),
            "kind": body.get("kind"),
            "metadata": {
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "labels": dict(meta.get("labels") or {}),
                "annotations": annotations,
            },
            "spec": body.get("spec"),
        },
        source=f"{KIND} {meta.get('namespace')}/{meta.get('name')}",
    )


def status_of(body: Mapping[str, Any]) -> ExperimentStatus:
    """The experiment's ``.status``, typed (parts this operator cannot read are dropped)."""
    return parse_status(body.get("status"))


def generation_of(body: Mapping[str, Any]) -> int | None:
    generation = (body.get("metadata") or {}).get("generation")
    return generation if isinstance(generation, int) else None


def is_finished(body: Mapping[str, Any]) -> bool:
    """Nothing left to watch: a final phase for the current generation and no active stage."""
    status = status_of(body)
    return (
        status.phase in FINISHED_PHASES
        and status.observed_generation == generation_of(body)
        and status.stage_counts.active == 0
    )


def owner_experiment(job: Mapping[str, Any]) -> str | None:
    """The experiment that controls a Job (from its ownerReferences, exact even for hashed labels)."""
    for ref in (job.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == KIND and str(ref.get("apiVersion", "")).startswith(f"{API_GROUP}/"):
            return str(ref.get("name"))
    return None


__all__ = [
    "FINISHED_PHASES",
    "OPERATIONAL_ANNOTATIONS",
    "EventSink",
    "generation_of",
    "is_finished",
    "manifest_from_body",
    "owner_experiment",
    "status_of",
]
