"""Fixtures of the operator's unit tests: typed manifests, realistic Job and Pod dicts, observations."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ensemw2s.operator.jobs import Owner, build_stage_job
from ensemw2s.operator.naming import LABEL_JOB_NAME, job_name
from ensemw2s.operator.observe import JobPhase, ObservedJob
from ensemw2s.spec import ExperimentManifest, Stage, StageSummary, parse_manifest

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

BASE: dict[str, Any] = {
    "apiVersion": "ensemw2s.io/v1alpha1",
    "kind": "EnsemW2SExperiment",
    "metadata": {"name": "exp", "namespace": "research"},
    "spec": {
        "seeds": [1],
        "dataset": {"name": "synthetic-sentiment", "sizes": {"easy": 60, "val": 20, "hardTrain": 60, "hardTest": 40}},
        "weak": {"model": "tiny-weak", "rounds": 2},
        "strong": {"model": "minilm"},
        "storage": {"pvc": {"claimName": "artifacts"}},
    },
}

OWNER = Owner("ensemw2s.io/v1alpha1", "EnsemW2SExperiment", "exp", "research", "uid-123")

ManifestFactory = Callable[..., ExperimentManifest]


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.fixture
def make_manifest() -> ManifestFactory:
    """``make_manifest(spec={...}, metadata={...})``: the base experiment with overrides merged in."""

    def make(**sections: dict[str, Any]) -> ExperimentManifest:
        return parse_manifest(merge(BASE, sections))

    return make


@pytest.fixture
def manifest(make_manifest: ManifestFactory) -> ExperimentManifest:
    return make_manifest()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def stamp(seconds: float) -> str:
    return at(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary_for(stage: Stage, results: dict[str, Any] | None = None, **metrics: float) -> StageSummary:
    return StageSummary(stage=stage.name, key="k" * 12, seconds=3.5, metrics=metrics, results=results)


def seen(
    stage: Stage,
    phase: JobPhase,
    *,
    experiment: str = "exp",
    attempts: int = 1,
    reason: str | None = None,
    log_tail: str | None = None,
    summary: StageSummary | None = None,
    deleting: bool = False,
    uid: str | None = None,
) -> ObservedJob:
    """An observation as ``observe_job`` would make it."""
    done = phase in {JobPhase.SUCCEEDED, JobPhase.FAILED}
    if phase is JobPhase.SUCCEEDED and summary is None:
        summary = summary_for(stage, accuracy=0.8)
    return ObservedJob(
        stage=stage,
        name=job_name(experiment, stage),
        phase=phase,
        attempts=attempts,
        started=stamp(1),
        finished=stamp(60) if done else None,
        reason=reason,
        summary=summary,
        log_tail=log_tail,
        deleting=deleting,
        uid=uid or f"uid-{experiment}-{stage.name}",
    )


def k8s_job(
    manifest: ExperimentManifest,
    stage: Stage,
    *,
    conditions: list[dict[str, Any]] | None = None,
    active: int = 0,
    ready: int = 0,
    succeeded: int = 0,
    failed: int = 0,
    suspend: bool = False,
    deleting: bool = False,
) -> dict[str, Any]:
    """A Job as the API returns it: the builder's manifest plus metadata and status."""
    job = build_stage_job(manifest, stage, OWNER)
    job["metadata"].update(uid=f"job-{stage.name}", creationTimestamp=stamp(0))
    if deleting:
        job["metadata"]["deletionTimestamp"] = stamp(100)
    job["spec"]["suspend"] = suspend
    status: dict[str, Any] = {"active": active, "ready": ready, "succeeded": succeeded, "failed": failed}
    if active or succeeded or failed:
        status["startTime"] = stamp(1)
    if conditions:
        status["conditions"] = [
            {"status": "True", "lastProbeTime": stamp(60), "lastTransitionTime": stamp(60), **c} for c in conditions
        ]
        if any(c["type"] == "Complete" for c in conditions):
            status["completionTime"] = stamp(60)
    job["status"] = {k: v for k, v in status.items() if v}
    return job


def k8s_pod(
    job: dict[str, Any],
    *,
    phase: str = "Running",
    created: float = 1,
    exit_code: int | None = None,
    reason: str | None = None,
    message: str | None = None,
    waiting: str | None = None,
    index: int | None = None,
    unschedulable: bool = False,
) -> dict[str, Any]:
    """One pod of a Job, as the kubelet reports it."""
    name = job["metadata"]["name"]
    state: dict[str, Any]
    if exit_code is not None:
        state = {
            "terminated": {"exitCode": exit_code, "reason": reason or ("Completed" if exit_code == 0 else "Error")}
        }
        if message is not None:
            state["terminated"]["message"] = message
    elif waiting is not None:
        state = {"waiting": {"reason": waiting, "message": "details"}}
    else:
        state = {"running": {"startedAt": stamp(created)}}
    annotations = {} if index is None else {"batch.kubernetes.io/job-completion-index": str(index)}
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-{int(created)}",
            "namespace": job["metadata"]["namespace"],
            "creationTimestamp": stamp(created),
            "labels": {**job["spec"]["template"]["metadata"]["labels"], LABEL_JOB_NAME: name},
            "annotations": annotations,
            "ownerReferences": [{"kind": "Job", "name": name, "uid": job["metadata"].get("uid")}],
        },
        "status": {"phase": phase, "containerStatuses": [{"name": "trainer", "state": state}]},
    }
    if unschedulable:
        pod["status"]["conditions"] = [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes"}
        ]
        pod["status"]["containerStatuses"] = []
    return pod


@pytest.fixture(name="seen")
def _seen() -> Callable[..., ObservedJob]:
    return seen


@pytest.fixture(name="k8s_job")
def _k8s_job() -> Callable[..., dict[str, Any]]:
    return k8s_job


@pytest.fixture(name="k8s_pod")
def _k8s_pod() -> Callable[..., dict[str, Any]]:
    return k8s_pod


@pytest.fixture(name="at")
def _at() -> Callable[[float], datetime]:
    return at


@pytest.fixture(name="summary_for")
def _summary_for() -> Callable[..., StageSummary]:
    return summary_for


@pytest.fixture
def owner() -> Owner:
    return OWNER
