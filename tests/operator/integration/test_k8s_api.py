"""``ClusterApi``: idempotent calls and one error mapping, against the emulator (real HTTP, real client)."""

from __future__ import annotations

import asyncio
from typing import Any

import kmock
import pytest
from ensemw2s.operator.errors import PermanentError, TemporaryError
from ensemw2s.operator.k8s import ClientConfigError, ClusterApi, api_error, load_client_configuration, status_patch
from ensemw2s.operator.naming import LABEL_EXPERIMENT, LABEL_MANAGED_BY, MANAGER

NS = "default"


def job(name: str, experiment: str = "exp", owner_uid: str = "uid-1", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {LABEL_EXPERIMENT: experiment, LABEL_MANAGED_BY: MANAGER, **labels},
            "ownerReferences": [
                {
                    "apiVersion": "ensemw2s.io/v1alpha1",
                    "kind": "EnsemW2SExperiment",
                    "name": experiment,
                    "uid": owner_uid,
                }
            ],
        },
        "spec": {"template": {"metadata": {"labels": {}}, "spec": {"containers": []}}},
    }


async def test_create_or_get_is_idempotent(cluster, cluster_api):
    created, was_created = await cluster_api.create_or_get(job("exp-prepare-s1"))
    again, was_created_again = await cluster_api.create_or_get(job("exp-prepare-s1"))

    assert was_created is True and was_created_again is False
    assert again["metadata"]["uid"] == created["metadata"]["uid"]
    assert cluster.creations[("jobs", NS, "exp-prepare-s1")] == 1


async def test_create_or_get_of_an_unknown_kind_is_permanent(cluster_api):
    with pytest.raises(
        PermanentError, match=r"^object kind: not managed by the operator \(got 'Pod'\); use Job or Service$"
    ):
        await cluster_api.create_or_get({"kind": "Pod", "metadata": {"name": "p", "namespace": NS}})


async def test_delete_if_exists_is_idempotent(cluster, cluster_api):
    await cluster_api.create_or_get(job("exp-report"))

    assert await cluster_api.delete_if_exists("Job", NS, "exp-report") is True
    assert await cluster_api.delete_if_exists("Job", NS, "exp-report") is False
    assert cluster.jobs(NS) == []


async def test_list_jobs_filters_by_labels_and_owner_even_when_the_server_does_not(cluster, cluster_api):
    mine, other_experiment, other_owner = (
        job("exp-a"),
        job("other-a", experiment="other"),
        job("exp-b", owner_uid="uid-old"),
    )
    unfiltered = {"apiVersion": "v1", "kind": "JobList", "metadata": {}, "items": [mine, other_experiment, other_owner]}
    cluster[kmock.action.LIST, kmock.resource("batch/v1/jobs")] << unfiltered  # a server that ignores selectors

    by_labels = await cluster_api.list_jobs(NS, "exp")
    by_owner = await cluster_api.list_jobs(NS, "exp", owner_uid="uid-1")

    assert [j["metadata"]["name"] for j in by_labels] == ["exp-a", "exp-b"]
    assert [j["metadata"]["name"] for j in by_owner] == ["exp-a"]


async def test_read_log_tail_returns_the_last_lines_or_none(cluster, cluster_api):
    code, _ = await cluster.call(
        "POST", f"/api/v1/namespaces/{NS}/pods", {"metadata": {"name": "p1", "namespace": NS}, "spec": {}}
    )
    assert code == 200
    cluster.pod_logs[(NS, "p1")] = "\n".join(f"line {i}" for i in range(30))

    assert await cluster_api.read_log_tail(NS, "p1", lines=3) == "line 27\nline 28\nline 29\n"
    assert await cluster_api.read_log_tail(NS, "gone", lines=3) is None


async def test_patches_on_missing_objects_report_gone(cluster_api):
    assert await cluster_api.patch_job_suspend(NS, "nope", True) is False
    assert await cluster_api.patch_status(NS, "nope", {"phase": "Running"}) is None
    assert await cluster_api.get_experiment(NS, "nope") is None


async def test_patch_job_suspend_is_a_merge_patch(cluster, cluster_api):
    await cluster_api.create_or_get(job("exp-weak-s1-r0"))

    assert await cluster_api.patch_job_suspend(NS, "exp-weak-s1-r0", True) is True
    stored = cluster.read("batch/v1/jobs", NS, "exp-weak-s1-r0")
    assert stored["spec"]["suspend"] is True and stored["spec"]["template"] == job("x")["spec"]["template"]
    assert (
        "PATCH",
        f"/apis/batch/v1/namespaces/{NS}/jobs/exp-weak-s1-r0",
        "application/merge-patch+json",
    ) in cluster.received


@pytest.mark.parametrize(
    ("status", "headers", "kind", "delay", "message"),
    [
        (503, {}, TemporaryError, 5.0, "API server busy or unavailable (got HTTP 503"),
        (500, {}, TemporaryError, 5.0, "API server busy or unavailable (got HTTP 500"),
        (429, {"Retry-After": "7"}, TemporaryError, 7.0, "API server busy or unavailable (got HTTP 429"),
        (403, {}, TemporaryError, 60.0, "forbidden (got HTTP 403"),
        (401, {}, TemporaryError, 5.0, "transient API error (got HTTP 401"),
        (409, {}, TemporaryError, 5.0, "transient API error (got HTTP 409"),
        (422, {}, PermanentError, None, "rejected by the API server (got HTTP 422"),
        (400, {}, PermanentError, None, "rejected by the API server (got HTTP 400"),
    ],
)
async def test_api_errors_map_to_temporary_or_permanent(cluster, cluster_api, status, headers, kind, delay, message):
    (
        cluster[kmock.action.LIST, kmock.resource("batch/v1/jobs")]
        << status
        << kmock.headers(headers)
        << {"kind": "Status"}
    )

    with pytest.raises(kind) as caught:
        await cluster_api.list_jobs(NS, "exp")

    assert str(caught.value).startswith(f"list Jobs of {NS}/exp: {message}")
    if delay is not None:
        assert caught.value.delay == delay


async def test_an_unreachable_api_server_is_temporary(tmp_path, unused_port):
    kubeconfig = tmp_path / "dead.kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\n"
        f"clusters: [{{name: dead, cluster: {{server: 'http://127.0.0.1:{unused_port}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: dead, context: {cluster: dead, user: u}}]\n"
    )
    api = ClusterApi(load_client_configuration(str(kubeconfig)), workers=1, timeout=(0.5, 0.5))
    try:
        with pytest.raises(TemporaryError, match=r"^get ensemw2sexperiments default/x: API server unreachable \(got "):
            await api.get_experiment(NS, "x")
    finally:
        api.close()


def test_status_patch_removes_dropped_keys_and_skips_unchanged_ones():
    previous = {"phase": "Running", "message": "x", "stages": [1]}
    new = {"phase": "Succeeded", "stages": [1], "results": {"a": 1}}

    assert status_patch(previous, new) == {"message": None, "phase": "Succeeded", "results": {"a": 1}}
    assert status_patch(new, new) == {}


def test_api_error_reraises_what_is_not_an_api_failure():
    with pytest.raises(KeyError):
        api_error("somewhere", KeyError("bug"))


@pytest.mark.parametrize(
    ("path_template", "context", "message"),
    [
        (
            "/nonexistent/kubeconfig",
            None,
            r"^kubeconfig /nonexistent/kubeconfig: cannot be loaded \(got .+\); pass --kubeconfig PATH",
        ),
        ("{kubeconfig}", "nope", r"^kubeconfig .+: cannot be loaded \(got .*nope.*\); pass --kubeconfig PATH"),
    ],
)
def test_client_configuration_errors_say_what_to_do(path_template, context, message, request):
    path = path_template.format(kubeconfig=request.getfixturevalue("kubeconfig"))
    with pytest.raises(ClientConfigError, match=message):
        load_client_configuration(path, context)


async def test_requests_run_off_the_event_loop(cluster, cluster_api):
    """A slow API server never blocks the operator's event loop (the client runs in a thread pool)."""

    async def slow(request):
        await asyncio.sleep(0.5)
        raise NotImplementedError  # then fall through to the emulator's own answer

    cluster[kmock.action.FETCH, kmock.resource("ensemw2s.io/v1alpha1/ensemw2sexperiments")] << slow
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    task = asyncio.create_task(ticker())
    assert await cluster_api.get_experiment(NS, "absent") is None
    task.cancel()
    assert ticks >= 5
