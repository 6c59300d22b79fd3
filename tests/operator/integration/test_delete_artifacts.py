"""``spec.runPolicy.deleteArtifacts``: deleting an experiment runs a cleanup Job and waits for it.

The real operator against the emulator, which keeps an object with finalizers (``deletionTimestamp``)
until the last one is removed, as the API server does. Then :func:`delete_artifacts` in-process for
the corners (an earlier experiment's cleanup Job, an unreadable spec, a Job that is not ours), and the
emulator's finalizer semantics themselves.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from ensemw2s.operator.deletion import delete_artifacts
from ensemw2s.operator.errors import TemporaryError
from ensemw2s.operator.plan import EventSpec

NS = "default"
EXPERIMENTS = f"/apis/ensemw2s.io/v1alpha1/namespaces/{NS}/ensemw2sexperiments"
FINALIZER = "ensemw2s.io/operator"


def _rbac_checker() -> Any:
    """``test_rbac_coverage`` as a module (its classifier maps a request to RBAC attributes)."""
    spec = importlib.util.spec_from_file_location("_rbac_coverage", Path(__file__).with_name("test_rbac_coverage.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def cleanup_job(cluster: Any, name: str) -> dict[str, Any] | None:
    return cluster.read("batch/v1/jobs", NS, f"{name}-cleanup")


def reasons(cluster: Any, name: str) -> list[str]:
    return [e["reason"] for e in cluster.events(NS, name)]


async def start_running(cluster: Any, kubelet: Any, wait_for: Any, name: str) -> dict[str, Any]:
    """The experiment's first stage is running (a pod that would write into the store)."""
    prepare = (await wait_for(lambda: cluster.jobs(NS, name), what=f"{name}: the first Job"))[0]
    await kubelet.start(prepare)
    await wait_for(lambda: cluster.experiment(NS, name).get("status", {}).get("stageCounts", {}).get("active") == 1)
    return prepare


async def waiting_retries(process: Any, wait_for: Any, job: str, times: int = 2) -> None:
    """The deletion handler has said ``waiting for Job <job>`` at least ``times`` times (Kopf retried it)."""
    await wait_for(
        lambda: process.log().count(f"waiting for Job {job} ") >= times, timeout=20, what=f"{times} waits for {job}"
    )


# -- the operator, end to end -----------------------------------------------------------------------


async def test_delete_artifacts_waits_for_the_cleanup_job(cluster, kubelet, operator, experiment_spec, wait_for):
    token = "kmock"
    requests: list[Any] = []
    rbac = _rbac_checker()

    def record(raw: web.BaseRequest) -> None:
        if raw.headers.get("Authorization") == f"Bearer {token}":
            requests.append(rbac.ApiRequest(raw.method, raw.path, tuple(raw.rel_url.query.items())))

    cluster.observer = record
    process = await operator("--namespace", NS)
    spec = experiment_spec(runPolicy={"backoffLimit": 2, "deleteArtifacts": True})
    created = await cluster.create_experiment(NS, "tidy", spec)
    await start_running(cluster, kubelet, wait_for, "tidy")
    await wait_for(lambda: FINALIZER in cluster.experiment(NS, "tidy")["metadata"].get("finalizers", []))

    await cluster.delete_experiment(NS, "tidy")

    job = await wait_for(lambda: cleanup_job(cluster, "tidy"), what="the cleanup Job")
    assert "ownerReferences" not in job["metadata"]
    assert job["metadata"]["annotations"]["ensemw2s.io/experiment-uid"] == created["metadata"]["uid"]
    assert job["metadata"]["labels"]["ensemw2s.io/stage"] == "cleanup"
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "clean"
    # The stage Jobs were stopped first (their pods with them): nothing writes while the store is cleaned.
    assert cluster.jobs(NS, "tidy") == [] and [p for p in cluster.live("v1/pods", NS) if "prepare" in str(p)] == []
    await waiting_retries(process, wait_for, "tidy-cleanup")
    experiment = cluster.experiment_or_none(NS, "tidy")
    assert experiment is not None, "the experiment went before its cleanup Job completed"
    assert experiment["metadata"]["deletionTimestamp"] and FINALIZER in experiment["metadata"]["finalizers"]

    await kubelet.start(job)
    await kubelet.succeed(job)

    await wait_for(lambda: cluster.experiment_or_none(NS, "tidy") is None, timeout=20, what="the experiment to go")
    assert cleanup_job(cluster, "tidy") is not None  # it outlives the experiment (the TTL removes it)
    assert [j["metadata"]["name"] for j in cluster.jobs(NS)] == ["tidy-cleanup"]  # no stage Job left
    assert cluster.creations[("jobs", NS, "tidy-cleanup")] == 1
    events = await wait_for(lambda: (r := reasons(cluster, "tidy")) and "ArtifactsDeleted" in r and r)
    assert events.count("DeletingArtifacts") == 1 and "ArtifactCleanupFailed" not in events
    deleted = next(e for e in cluster.events(NS, "tidy") if e["reason"] == "ArtifactsDeleted")
    assert deleted["type"] == "Normal" and "pvc/artifacts/default/tidy/" in deleted["message"]
    assert rbac.uncovered(requests) == []
    assert {("batch", "jobs", "create"), ("batch", "jobs", "delete")} <= rbac.used(requests)


async def test_a_failed_cleanup_warns_and_lets_the_experiment_go(cluster, kubelet, operator, experiment_spec, wait_for):
    process = await operator("--namespace", NS)
    await cluster.create_experiment(NS, "stuck", experiment_spec(runPolicy={"deleteArtifacts": True}))
    await wait_for(lambda: FINALIZER in cluster.experiment(NS, "stuck")["metadata"].get("finalizers", []))

    await cluster.delete_experiment(NS, "stuck")
    job = await wait_for(lambda: cleanup_job(cluster, "stuck"), what="the cleanup Job")
    await waiting_retries(process, wait_for, "stuck-cleanup", times=1)
    assert cluster.experiment_or_none(NS, "stuck") is not None
    await kubelet.start(job)
    await kubelet.fail(job, reason="Error", exit_code=1, log="Error: store: permission denied")

    await wait_for(lambda: cluster.experiment_or_none(NS, "stuck") is None, timeout=20, what="the experiment to go")
    warning = await wait_for(
        lambda: next((e for e in cluster.events(NS, "stuck") if e["reason"] == "ArtifactCleanupFailed"), None),
        what="the Warning event",
    )
    assert warning["type"] == "Warning"
    assert "Job stuck-cleanup failed (exit code 1)" in warning["message"]
    assert "pvc/artifacts/default/stuck/" in warning["message"]
    assert "ArtifactsDeleted" not in reasons(cluster, "stuck")


async def test_without_delete_artifacts_the_experiment_goes_at_once(
    cluster, kubelet, operator, experiment_spec, wait_for
):
    await operator("--namespace", NS)
    await cluster.create_experiment(NS, "keep", experiment_spec())
    await start_running(cluster, kubelet, wait_for, "keep")
    await wait_for(lambda: FINALIZER in cluster.experiment(NS, "keep")["metadata"].get("finalizers", []))

    await cluster.delete_experiment(NS, "keep")

    await wait_for(lambda: cluster.experiment_or_none(NS, "keep") is None, timeout=3, what="a prompt deletion")
    assert cluster.jobs(NS) == [] and cleanup_job(cluster, "keep") is None  # stage Jobs collected, no cleanup
    kept = await wait_for(
        lambda: next((e for e in cluster.events(NS, "keep") if e["reason"] == "ArtifactsKept"), None), what="event"
    )
    assert kept["type"] == "Normal" and "pvc/artifacts/default/keep/" in kept["message"]


async def test_a_cleanup_completed_while_the_operator_was_down_releases_the_experiment(
    cluster, kubelet, operator, experiment_spec, wait_for
):
    first = await operator("--namespace", NS)
    await cluster.create_experiment(NS, "phoenix", experiment_spec(runPolicy={"deleteArtifacts": True}))
    await wait_for(lambda: FINALIZER in cluster.experiment(NS, "phoenix")["metadata"].get("finalizers", []))
    await cluster.delete_experiment(NS, "phoenix")
    job = await wait_for(lambda: cleanup_job(cluster, "phoenix"), what="the cleanup Job")

    await first.kill()
    await kubelet.start(job)
    await kubelet.succeed(job)  # the cleanup ends while no operator runs: nothing releases the experiment yet
    assert cluster.experiment_or_none(NS, "phoenix") is not None

    await operator("--namespace", NS)

    await wait_for(lambda: cluster.experiment_or_none(NS, "phoenix") is None, timeout=20, what="the experiment to go")
    assert cluster.creations[("jobs", NS, "phoenix-cleanup")] == 1


# -- delete_artifacts in-process --------------------------------------------------------------------


def body_of(cluster: Any, name: str) -> dict[str, Any]:
    return cluster.experiment(NS, name)


@pytest.fixture
def events() -> list[EventSpec]:
    return []


@pytest.fixture
def emit(events: list[EventSpec]) -> Any:
    return lambda _body, event: events.append(event)


async def test_an_earlier_experiments_cleanup_job_is_replaced(cluster, cluster_api, experiment_spec, emit, events):
    """A namesake deleted a minute ago left its finished cleanup Job (TTL): ours must not pass for done."""
    spec = experiment_spec(runPolicy={"deleteArtifacts": True})
    old = await cluster.create_experiment(NS, "again", spec)
    with pytest.raises(TemporaryError, match="waiting for Job again-cleanup"):
        await delete_artifacts(cluster_api, body_of(cluster, "again"), emit=emit)
    job = cluster.read("batch/v1/jobs", NS, "again-cleanup")
    await cluster.call("PATCH", f"/apis/batch/v1/namespaces/{NS}/jobs/again-cleanup/status", {"status": {"conditions": [{"type": "Complete", "status": "True"}]}})  # fmt: skip
    await cluster.call("DELETE", f"{EXPERIMENTS}/again")
    new = await cluster.create_experiment(NS, "again", spec)
    assert new["metadata"]["uid"] != old["metadata"]["uid"] and job is not None

    with pytest.raises(TemporaryError, match="deleted the earlier experiment's finished Job again-cleanup"):
        await delete_artifacts(cluster_api, body_of(cluster, "again"), emit=emit)
    with pytest.raises(TemporaryError, match="waiting for Job again-cleanup"):
        await delete_artifacts(cluster_api, body_of(cluster, "again"), emit=emit)

    replacement = cluster.read("batch/v1/jobs", NS, "again-cleanup")
    assert replacement["metadata"]["annotations"]["ensemw2s.io/experiment-uid"] == new["metadata"]["uid"]
    assert cluster.creations[("jobs", NS, "again-cleanup")] == 2
    assert [e.reason for e in events] == ["DeletingArtifacts", "DeletingArtifacts"]


async def test_a_running_cleanup_job_of_an_earlier_experiment_is_waited_for(
    cluster, cluster_api, experiment_spec, emit
):
    spec = experiment_spec(runPolicy={"deleteArtifacts": True})
    await cluster.create_experiment(NS, "twice", spec)
    with pytest.raises(TemporaryError):
        await delete_artifacts(cluster_api, body_of(cluster, "twice"), emit=emit)
    await cluster.call("DELETE", f"{EXPERIMENTS}/twice")
    await cluster.create_experiment(NS, "twice", spec)

    with pytest.raises(TemporaryError, match=r"waiting for Job twice-cleanup \(of an earlier experiment"):
        await delete_artifacts(cluster_api, body_of(cluster, "twice"), emit=emit)
    assert cluster.creations[("jobs", NS, "twice-cleanup")] == 1


async def test_a_job_that_is_not_ours_is_left_alone(cluster, cluster_api, experiment_spec, emit, events):
    await cluster.call("POST", f"/apis/batch/v1/namespaces/{NS}/jobs", {"metadata": {"name": "mine-cleanup"}})
    await cluster.create_experiment(NS, "mine", experiment_spec(runPolicy={"deleteArtifacts": True}))

    await delete_artifacts(cluster_api, body_of(cluster, "mine"), emit=emit)

    assert [(e.reason, e.type) for e in events] == [("ArtifactCleanupFailed", "Warning")]
    assert "Job mine-cleanup exists and was not created by the operator" in events[0].message
    assert cluster.read("batch/v1/jobs", NS, "mine-cleanup") is not None


async def test_an_unreadable_spec_keeps_the_artifacts(cluster, cluster_api, experiment_spec, emit, events):
    spec = {**experiment_spec(runPolicy={"deleteArtifacts": True}), "unknownField": 1}
    await cluster.create_experiment(NS, "broken", spec)

    await delete_artifacts(cluster_api, body_of(cluster, "broken"), emit=emit)

    assert [(e.reason, e.type) for e in events] == [("ArtifactsKept", "Warning")]
    assert "the spec cannot be read" in events[0].message and cluster.jobs(NS) == []
    assert cluster.read("batch/v1/jobs", NS, "broken-cleanup") is None


async def test_a_refused_cleanup_job_lets_the_deletion_go_on(cluster, cluster_api, experiment_spec, emit, events):
    cluster.admission = lambda request: "no cleanup here" if "cleanup" in json.dumps(request.data) else None
    await cluster.create_experiment(NS, "denied", experiment_spec(runPolicy={"deleteArtifacts": True}))

    await delete_artifacts(cluster_api, body_of(cluster, "denied"), emit=emit)

    assert [(e.reason, e.type) for e in events] == [("ArtifactCleanupFailed", "Warning")]
    assert (
        "no cleanup here" in events[0].message
        and "artifacts kept in pvc/artifacts/default/denied/" in events[0].message
    )


# -- the emulator's finalizers ----------------------------------------------------------------------


async def test_emulator_delete_with_finalizers_marks_and_a_release_removes(cluster):
    _, owner = await cluster.call("POST", EXPERIMENTS, {"metadata": {"name": "e", "finalizers": ["x.io/f"]}})
    ref = {"apiVersion": "ensemw2s.io/v1alpha1", "kind": "EnsemW2SExperiment", "name": "e", "uid": owner["metadata"]["uid"]}  # fmt: skip
    await cluster.call("POST", f"/apis/batch/v1/namespaces/{NS}/jobs", {"metadata": {"name": "j", "ownerReferences": [ref]}})  # fmt: skip

    code, marked = await cluster.call("DELETE", f"{EXPERIMENTS}/e")
    again, _ = await cluster.call("DELETE", f"{EXPERIMENTS}/e")

    assert code == 200 and again == 200
    stored = cluster.experiment(NS, "e")
    assert stored["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]
    assert int(stored["metadata"]["resourceVersion"]) > int(owner["metadata"]["resourceVersion"])
    assert [j["metadata"]["name"] for j in cluster.jobs(NS)] == ["j"]  # dependents wait for the owner to go

    code, _ = await cluster.call("PATCH", f"{EXPERIMENTS}/e", {"metadata": {"annotations": {"a": "b"}}})
    assert code == 200 and cluster.experiment_or_none(NS, "e") is not None
    async with cluster.request(
        "PATCH",
        f"{EXPERIMENTS}/e",
        json=[{"op": "remove", "path": "/metadata/finalizers/0"}],
        headers={"Content-Type": "application/json-patch+json"},
    ) as response:
        assert response.status == 200

    assert cluster.experiment_or_none(NS, "e") is None and cluster.jobs(NS) == []


async def test_emulator_delete_without_finalizers_is_immediate(cluster):
    await cluster.call("POST", EXPERIMENTS, {"metadata": {"name": "plain"}})

    code, _ = await cluster.call("DELETE", f"{EXPERIMENTS}/plain")

    assert code == 200 and cluster.experiment_or_none(NS, "plain") is None
