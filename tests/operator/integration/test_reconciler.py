"""The reconciler in this process (no Kopf) against the emulator: failure paths, idempotency, coalescing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import kmock
import kopf
import pytest
from ensemw2s.operator.errors import PermanentError, TemporaryError
from ensemw2s.operator.handlers import Reconciler, as_kopf_errors
from ensemw2s.operator.metrics import OperatorMetrics
from ensemw2s.operator.resource import is_finished, manifest_from_body, owner_experiment
from ensemw2s.spec.results import PGRs

NS = "default"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def events():
    return []


@pytest.fixture
def metrics():
    return OperatorMetrics()


@pytest.fixture
def reconciler(cluster_api, metrics, events):
    return Reconciler(cluster_api, metrics, emit=lambda body, event: events.append(event), clock=lambda: NOW)


def sample(metrics: OperatorMetrics, name: str, **labels: str) -> float | None:
    found = metrics.registry.get_sample_value(name, labels)
    return None if found is None else float(found)


async def test_a_reconcile_creates_the_first_job_and_writes_status(cluster, reconciler, events, experiment_spec):
    await cluster.create_experiment(NS, "one", experiment_spec())

    outcome = await reconciler.reconcile(NS, "one")

    assert outcome is not None and outcome.result == "ok"
    assert [j["metadata"]["name"] for j in cluster.jobs(NS, "one")] == ["one-prepare-s1"]
    status = cluster.experiment(NS, "one")["status"]
    assert status["requestedStages"] == [{"name": "prepare-s1", "requestedAt": "2026-01-02T03:04:05Z"}]
    assert [e.reason for e in events] == ["Accepted", "StageStarted"]

    again = await reconciler.reconcile(NS, "one")  # same observation: no new Job, no new event, no write

    assert again is not None and again.result == "ok" and not again.plan.create
    assert [e.reason for e in events] == ["Accepted", "StageStarted"]
    assert cluster.creations[("jobs", NS, "one-prepare-s1")] == 1


async def test_a_transient_api_error_writes_nothing_and_is_counted(cluster, reconciler, metrics, experiment_spec):
    await cluster.create_experiment(NS, "flaky", experiment_spec())
    cluster[kmock.action.LIST, kmock.resource("v1/pods")] << 503

    with pytest.raises(
        TemporaryError, match=r"^list pods of default/flaky: API server busy or unavailable \(got HTTP 503"
    ):
        await reconciler.reconcile(NS, "flaky")

    assert "status" not in cluster.experiment(NS, "flaky")
    assert cluster.jobs(NS) == []
    assert sample(metrics, "ensemw2s_reconcile_total", result="error") == 1
    assert sample(metrics, "ensemw2s_reconcile_duration_seconds_count") == 1


async def test_a_lost_create_response_does_not_duplicate_the_job(cluster, reconciler, experiment_spec):
    """The API server stored the Job but the answer was lost (503): the next reconcile finds it."""
    await cluster.create_experiment(NS, "lost", experiment_spec())
    seen: set[int] = set()

    def first_job_create(request) -> bool:
        if request.method == "POST" and request.resource == kmock.resource("batch/v1/jobs") and not seen:
            seen.add(id(request))
        return id(request) in seen

    cluster[first_job_create] << 503  # KMock stores the created object before any reaction answers

    with pytest.raises(TemporaryError, match=r"^create Job default/lost-prepare-s1: API server busy"):
        await reconciler.reconcile(NS, "lost")
    assert "status" not in cluster.experiment(NS, "lost")

    outcome = await reconciler.reconcile(NS, "lost")

    assert outcome is not None and outcome.result == "ok" and outcome.plan.create == ()
    assert cluster.creations[("jobs", NS, "lost-prepare-s1")] == 1
    assert cluster.experiment(NS, "lost")["status"]["stages"][0]["phase"] == "Pending"


async def test_a_deleted_experiment_is_gone_and_forgotten(cluster, reconciler, metrics):
    metrics.set_experiment(NS, "ghost", "Running", PGRs(ensemw2s_vs_weak=0.4))

    outcome = await reconciler.reconcile(NS, "ghost")

    assert outcome is not None and outcome.result == "gone"
    assert (
        sample(metrics, "ensemw2s_experiment_pgr", namespace=NS, experiment="ghost", baseline="ensemw2s_vs_weak")
        is None
    )
    assert sample(metrics, "ensemw2s_reconcile_total", result="gone") == 1


async def test_coalesced_triggers_wait_behind_one_reconcile(cluster, reconciler, experiment_spec):
    await cluster.create_experiment(NS, "busy", experiment_spec())

    reading, release = asyncio.Event(), asyncio.Event()

    async def held(request):
        reading.set()
        await release.wait()
        raise NotImplementedError  # then the emulator answers as usual

    cluster[kmock.action.FETCH, kmock.resource("ensemw2s.io/v1alpha1/ensemw2sexperiments")] << held

    first = asyncio.create_task(reconciler.reconcile(NS, "busy"))
    await asyncio.wait_for(reading.wait(), 5)  # the first one holds the lock, reading the experiment
    waiting = asyncio.create_task(reconciler.reconcile(NS, "busy", coalesce=True))
    await asyncio.sleep(0)  # one turn of the loop: the second one queues for the lock
    dropped = await reconciler.reconcile(NS, "busy", coalesce=True)  # one is already waiting: nothing to add
    release.set()

    assert dropped is None
    assert (await first).result == "ok" and (await waiting).result == "ok"
    assert cluster.creations[("jobs", NS, "busy-prepare-s1")] == 1


async def test_operator_errors_become_kopf_errors():
    async def temporary() -> None:
        raise TemporaryError("x: busy (got 503); retrying", delay=7)

    async def permanent() -> None:
        raise PermanentError("x: rejected (got 422)")

    with pytest.raises(kopf.TemporaryError) as caught:
        await as_kopf_errors(temporary())
    assert caught.value.delay == 7 and str(caught.value) == "x: busy (got 503); retrying"
    with pytest.raises(kopf.PermanentError, match=r"^x: rejected \(got 422\)$"):
        await as_kopf_errors(permanent())
    assert await as_kopf_errors(asyncio.sleep(0, result=3)) == 3


def test_manifest_from_body_keeps_the_users_metadata_only(experiment_spec):
    body = {
        "apiVersion": "ensemw2s.io/v1alpha1",
        "kind": "EnsemW2SExperiment",
        "metadata": {
            "name": "m",
            "namespace": "team-a",
            "uid": "u",
            "resourceVersion": "9",
            "generation": 3,
            "finalizers": ["ensemw2s.io/operator"],
            "labels": {"team": "a"},
            "annotations": {
                "ensemw2s.io/retry": "1",
                "kopf.ensemw2s.io/last-handled-configuration": "{}",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            },
        },
        "spec": experiment_spec(),
        "status": {"phase": "Running"},
    }

    manifest = manifest_from_body(body)

    assert (manifest.name, manifest.namespace) == ("m", "team-a")
    assert manifest.metadata.labels == {"team": "a"}
    assert manifest.metadata.annotations == {"ensemw2s.io/retry": "1"}


@pytest.mark.parametrize(
    ("status", "finished"),
    [
        ({"phase": "Succeeded", "observedGeneration": 2, "stageCounts": {"active": 0}}, True),
        ({"phase": "Invalid", "observedGeneration": 2}, True),
        ({"phase": "Failed", "observedGeneration": 2, "stageCounts": {"active": 1}}, False),  # others still run
        ({"phase": "Succeeded", "observedGeneration": 1, "stageCounts": {"active": 0}}, False),  # spec changed
        ({"phase": "Running", "observedGeneration": 2}, False),
        ({}, False),
    ],
)
def test_is_finished(status, finished):
    assert is_finished({"metadata": {"generation": 2}, "status": status}) is finished


def test_owner_experiment_reads_the_owner_reference():
    owned = {
        "metadata": {
            "ownerReferences": [{"apiVersion": "ensemw2s.io/v1alpha1", "kind": "EnsemW2SExperiment", "name": "e"}]
        }
    }
    foreign = {"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r"}]}}

    assert owner_experiment(owned) == "e"
    assert owner_experiment(foreign) is None
    assert owner_experiment({"metadata": {}}) is None
