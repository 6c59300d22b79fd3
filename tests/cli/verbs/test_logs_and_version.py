"""logs (newest attempt, ranks, the status' log tail when no pod is left) and version."""

from __future__ import annotations

import json
from typing import Any

import kmock

NS = "default"


async def pod(cluster: Any, name: str, stage: str, log: str, rank: int | None = None, created: str = "") -> None:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": NS,
        "labels": {"ensemw2s.io/experiment": "exp", "ensemw2s.io/stage": stage},
        "creationTimestamp": created,
    }
    if rank is not None:
        meta["annotations"] = {"batch.kubernetes.io/job-completion-index": str(rank)}
    code, data = await cluster.call("POST", f"/api/v1/namespaces/{NS}/pods", {"metadata": meta, "spec": {}})
    assert code < 300, data
    cluster.pod_logs[(NS, name)] = log


async def test_logs_shows_the_newest_attempt_of_rank_0_or_every_rank(cluster, w2sctl, experiment_file):
    await w2sctl("submit", str(experiment_file("exp")))
    await pod(cluster, "exp-weak-s1-r0-a", "weak-s1-r0", "first try\n", created="2024-01-01T00:00:00Z")
    await pod(cluster, "exp-weak-s1-r0-b", "weak-s1-r0", "second try\nloss 0.1\n", created="2024-01-01T00:01:00Z")
    await pod(cluster, "exp-strong-0", "strong-s1-ensemble", "rank zero\n", rank=0)
    await pod(cluster, "exp-strong-1", "strong-s1-ensemble", "rank one\n", rank=1)

    newest = await w2sctl("logs", "exp", "--stage", "weak-s1-r0")
    rank0 = await w2sctl("logs", "exp", "-s", "strong-s1-ensemble")
    ranks = await w2sctl("logs", "exp", "-s", "strong-s1-ensemble", "--all-ranks")

    assert newest.code == 0 and newest.out == "second try\nloss 0.1\n"
    assert rank0.out == "rank zero\n"
    assert ranks.out == "[rank 0] rank zero\n[rank 1] rank one\n"


async def test_logs_follow_streams_every_rank_until_its_container_ends(cluster, w2sctl, experiment_file):
    """``-f`` asks the API server to follow (``follow=true``) and prints each rank's lines as they arrive; KMock
    sends the whole log and ends the stream, as a container that finished does."""
    await w2sctl("submit", str(experiment_file("exp")))
    await pod(cluster, "exp-strong-0", "strong-s1-ensemble", "rank zero\nstep 2\n", rank=0)
    await pod(cluster, "exp-strong-1", "strong-s1-ensemble", "rank one\n", rank=1)
    queries: list[str] = []
    cluster.observer = lambda request: queries.append(request.query_string) if request.path.endswith("/log") else None

    followed = await w2sctl("logs", "exp", "-s", "strong-s1-ensemble", "-f", "--all-ranks")

    assert followed.code == 0, followed.err
    lines = followed.out.splitlines()
    assert sorted(lines) == ["[rank 0] rank zero", "[rank 0] step 2", "[rank 1] rank one"]
    assert lines.index("[rank 0] rank zero") < lines.index("[rank 0] step 2")  # each rank's own order
    assert len(queries) == 2 and all("follow=true" in query for query in queries)


async def test_logs_without_a_pod_and_of_an_unknown_stage(cluster, w2sctl, experiment_file):
    await w2sctl("submit", str(experiment_file("exp")))
    stages = [{"name": "weak-s1-r0", "phase": "Failed", "reason": "OOMKilled", "message": "step 3\nKilled"}]
    status = {"phase": "Failed", "observedGeneration": 1, "stages": stages, "failedStages": ["weak-s1-r0"]}
    await cluster.call("PATCH", "/apis/ensemw2s.io/v1alpha1/namespaces/default/ensemw2sexperiments/exp/status", {
        "status": status
    })  # fmt: skip

    kept = await w2sctl("logs", "exp", "--stage", "weak-s1-r0")
    waiting = await w2sctl("logs", "exp", "--stage", "report")
    unknown = await w2sctl("logs", "exp", "--stage", "weak-s1-r7")

    assert kept.code == 0 and kept.out == "step 3\nKilled\n"
    assert "warning: exp weak-s1-r0: no pod left (phase Failed); its last log lines, kept in the status:" in kept.err
    assert waiting.code == 1 and waiting.error_lines == [
        "Error: default/exp stage report: no pod (got phase Waiting); it has not started yet"
    ]
    assert unknown.code == 1 and unknown.error_lines == [
        "Error: --stage: must name a stage of exp (got 'weak-s1-r7'); its stages: prepare-s1, weak-s1-r0, "
        "weak-s1-r1, aggregate-s1, strong-s1-ensemble, report"
    ]


async def test_version_reads_the_server_the_crd_and_the_operator_deployment(cluster, w2sctl):
    cluster["get", "/version/"] << {"major": "1", "minor": "31", "gitVersion": "v1.31.2"}
    crds = "apiextensions.k8s.io/v1/customresourcedefinitions"
    cluster.resources[crds] = kmock.ResourceInfo(kind="CustomResourceDefinition", namespaced=False, verbs={"get"})
    cluster.resources["apps/v1/deployments"] = kmock.ResourceInfo(kind="Deployment", namespaced=True, verbs={"list"})
    crd = {
        "metadata": {"name": "ensemw2sexperiments.ensemw2s.io"},
        "spec": {"versions": [{"name": "v1alpha1", "served": True, "storage": True}]},
    }
    deployment = {
        "metadata": {
            "name": "ensemw2s-operator",
            "namespace": "ensemw2s-system",
            "labels": {"app.kubernetes.io/name": "ensemw2s-operator", "app.kubernetes.io/version": "0.1.0"},
        },
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"image": "ghcr.io/ensemw2s/operator:0.1.0"}]}}},
        "status": {"readyReplicas": 1},
    }
    assert (await cluster.call("POST", f"/apis/{crds}", crd))[0] < 300
    assert (await cluster.call("POST", "/apis/apps/v1/namespaces/ensemw2s-system/deployments", deployment))[0] < 300

    table = await w2sctl("version")
    document = await w2sctl("version", "-o", "json")

    assert table.code == 0, table.err
    assert [line.split()[0] for line in table.out.splitlines()] == ["COMPONENT", "client", "server", "crd", "operator"]
    versions = json.loads(document.out)
    assert versions["crd"]["version"] == "v1alpha1 (storage)"
    assert versions["operator"]["version"] == "0.1.0"
    assert versions["operator"]["detail"] == (
        "ensemw2s-system/ensemw2s-operator ghcr.io/ensemw2s/operator:0.1.0 1/1 ready"
    )
    assert versions["client"]["version"].startswith("w2sctl ")


async def test_version_degrades_when_deployments_are_forbidden(cluster, w2sctl):
    cluster["get", "/version/"] << {"gitVersion": "v1.31.2"}
    cluster["list", kmock.resource("apps/v1/deployments")] << 403 << {"kind": "Status", "reason": "Forbidden"}

    result = await w2sctl("version", "-o", "json")

    assert result.code == 0, result.err
    versions = json.loads(result.out)
    assert versions["operator"] == {"version": "unknown", "detail": "cannot list Deployments (forbidden)"}
    assert versions["crd"]["version"] == "not installed"
