"""On a real API server: deleting an experiment; its Jobs go by garbage collection (ownerReferences).

The garbage collector learns about a new CRD's kind only at its next discovery (up to ~30 s after the CRD
is created), so the waits for collected objects allow 60 s.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.cluster

GC_SECONDS = 60.0


def events(cluster, reason: str) -> list[str]:
    listed = cluster.core.list_namespaced_event(cluster.namespace, field_selector=f"reason={reason}").items
    return [str(event.message) for event in listed]


def test_deleting_an_experiment_garbage_collects_its_jobs_and_pods(cluster, wait_until):
    cluster.submit()
    cluster.drive(until=lambda s: "prepare-s1" in s.get("succeededStages", []))
    assert cluster.job_uids()

    cluster.kubectl("delete", "w2sx", cluster.name, "--wait=false")

    wait_until(lambda: not cluster.kubectl("get", "w2sx", "-o", "name").stdout.strip(), 30, "the experiment to go")
    wait_until(
        lambda: (
            not cluster.batch.list_namespaced_job(cluster.namespace).items
            and not cluster.core.list_namespaced_pod(cluster.namespace).items
        ),
        GC_SECONDS,
        "the garbage collector to delete the experiment's Jobs and their pods",
    )
    (kept,) = events(cluster, "ArtifactsKept")
    assert "spec.runPolicy.deleteArtifacts is false" in kept


def test_delete_artifacts_stops_the_stages_then_runs_the_cleanup_job_before_the_experiment_goes(
    cluster, wait_until, kubelet
):
    """``w2sctl delete --artifacts`` sets ``spec.runPolicy.deleteArtifacts``, then deletes; the operator's
    finalizer stops the stage Jobs, runs the cleanup Job and lets the experiment go when it has ended."""
    cluster.submit()
    cluster.drive(until=lambda s: "prepare-s1" in s.get("succeededStages", []))

    deleted = cluster.w2sctl("delete", cluster.name, "--artifacts")
    assert deleted.returncode == 0, deleted.stderr

    def cleanup_pod():
        pods = [pod for pod in kubelet.pods(cluster.namespace, cluster.name) if kubelet.stage(pod) == "cleanup"]
        return pods[0] if pods else None

    pod = wait_until(cleanup_pod, GC_SECONDS, "the cleanup Job's pod")
    # The stage Jobs were deleted (Foreground: gone once their pods are) before the cleanup Job was made.
    assert set(cluster.job_uids()) == {"cleanup"}
    assert cluster.kubectl("get", "w2sx", "-o", "name").stdout.strip(), "the finalizer must hold the experiment"
    (deleting,) = events(cluster, "DeletingArtifacts")
    assert deleting.startswith(f"Job {cluster.name}-cleanup deletes the artifacts in ")

    kubelet.succeed(pod, message="deleted")

    wait_until(lambda: not cluster.kubectl("get", "w2sx", "-o", "name").stdout.strip(), 30, "the experiment to go")
    (deleted_event,) = events(cluster, "ArtifactsDeleted")
    assert deleted_event.startswith(f"Job {cluster.name}-cleanup deleted the artifacts in ")
    # The cleanup Job has no owner (it must outlive the experiment); on v1.20 its ttlSecondsAfterFinished
    # is dropped (TTLAfterFinished is alpha there), so it stays until deleted by hand.
    (job,) = cluster.batch.list_namespaced_job(cluster.namespace).items
    assert job.metadata.name == f"{cluster.name}-cleanup" and not job.metadata.owner_references
