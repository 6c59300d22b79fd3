"""The test API server itself: the behaviours the operator tests rely on, which KMock 0.8 lacks."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

EXPERIMENTS = "/apis/ensemw2s.io/v1alpha1/namespaces/default/ensemw2sexperiments"


async def test_creates_get_uid_resource_version_generation_and_conflict(cluster):
    code, first = await cluster.call("POST", EXPERIMENTS, {"metadata": {"name": "e"}, "spec": {"a": 1}})
    conflict, _ = await cluster.call("POST", EXPERIMENTS, {"metadata": {"name": "e"}, "spec": {"a": 1}})

    assert code == 200 and conflict == 409
    meta = first["metadata"]
    assert meta["namespace"] == "default" and meta["generation"] == 1 and meta["uid"] and meta["resourceVersion"]


async def test_generate_name_gives_distinct_names(cluster):
    body = {"metadata": {"generateName": "ensemw2s-"}, "reason": "X"}
    (_, a), (_, b) = [await cluster.call("POST", "/api/v1/namespaces/default/events", body) for _ in range(2)]

    assert a["metadata"]["name"] != b["metadata"]["name"] and a["metadata"]["name"].startswith("ensemw2s-")


async def test_generation_moves_with_spec_changes_only_and_status_is_a_subresource(cluster):
    await cluster.call("POST", EXPERIMENTS, {"metadata": {"name": "e"}, "spec": {"a": 1}})

    _, labelled = await cluster.call(
        "PATCH", f"{EXPERIMENTS}/e", {"metadata": {"labels": {"x": "y"}}, "status": {"p": 1}}
    )
    _, same = await cluster.call("PATCH", f"{EXPERIMENTS}/e", {"spec": {"a": 1}})
    _, changed = await cluster.call("PATCH", f"{EXPERIMENTS}/e", {"spec": {"a": 2}})
    _, status = await cluster.call("PATCH", f"{EXPERIMENTS}/e/status", {"spec": {"a": 3}, "status": {"p": 2}})
    _, json_patched = await cluster.call("PATCH", f"{EXPERIMENTS}/e", [{"op": "add", "path": "/spec/b", "value": 1}])

    assert labelled["metadata"]["generation"] == 1 and "status" not in labelled  # status only via /status
    assert same["metadata"]["generation"] == 1
    assert changed["metadata"]["generation"] == 2
    assert status["spec"] == {"a": 2} and status["status"] == {"p": 2} and status["metadata"]["generation"] == 2
    assert json_patched["metadata"]["generation"] == 3
    versions = [int(x["metadata"]["resourceVersion"]) for x in (labelled, same, changed, status, json_patched)]
    assert versions == sorted(set(versions))


@pytest.mark.parametrize(
    ("selector", "names"),
    [
        ("app=a", ["one"]),
        ("app!=a", ["three", "two"]),
        ("app in (a,b)", ["one", "two"]),
        ("app notin (a)", ["three", "two"]),
        ("tier", ["two"]),
        ("!tier", ["one", "three"]),
        ("app=b,tier=x", ["two"]),
    ],
)
async def test_lists_filter_by_label_selector(cluster, selector, names):
    for name, labels in [("one", {"app": "a"}), ("two", {"app": "b", "tier": "x"}), ("three", {})]:
        await cluster.call("POST", EXPERIMENTS, {"metadata": {"name": name, "labels": labels}})

    _, listing = await cluster.call("GET", f"{EXPERIMENTS}?labelSelector={selector}")

    assert sorted(item["metadata"]["name"] for item in listing["items"]) == names
    assert listing["metadata"]["resourceVersion"] == "3"


async def test_a_watch_resumes_after_its_resource_version(cluster):
    await cluster.call("POST", EXPERIMENTS, {"metadata": {"name": "old"}})
    _, listing = await cluster.call("GET", EXPERIMENTS)

    async with cluster.request(
        "GET", f"{EXPERIMENTS}?watch=true&resourceVersion={listing['metadata']['resourceVersion']}"
    ) as stream:
        await asyncio.sleep(0.1)
        await cluster.call("POST", EXPERIMENTS, {"metadata": {"name": "new"}})
        line = await asyncio.wait_for(stream.content.readline(), 5)

    event = json.loads(line)
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "new")  # "old" is not replayed


async def test_namespaces_can_be_listed(cluster):
    cluster.namespaces_known.add("team-a")

    code, listing = await cluster.call("GET", "/api/v1/namespaces")

    assert code == 200 and [n["metadata"]["name"] for n in listing["items"]] == ["default", "team-a"]


async def test_deleting_an_owner_deletes_its_dependents(cluster):
    _, owner = await cluster.call("POST", EXPERIMENTS, {"metadata": {"name": "e"}})
    ref = {
        "apiVersion": "ensemw2s.io/v1alpha1",
        "kind": "EnsemW2SExperiment",
        "name": "e",
        "uid": owner["metadata"]["uid"],
    }
    _, job = await cluster.call(
        "POST", "/apis/batch/v1/namespaces/default/jobs", {"metadata": {"name": "j", "ownerReferences": [ref]}}
    )
    pod_ref = {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": job["metadata"]["uid"]}
    await cluster.call(
        "POST", "/api/v1/namespaces/default/pods", {"metadata": {"name": "p", "ownerReferences": [pod_ref]}}
    )

    await cluster.call("DELETE", f"{EXPERIMENTS}/e")

    assert cluster.jobs() == [] and cluster.live("v1/pods") == []


async def test_pod_logs_are_served_with_tail_lines(cluster):
    await cluster.call("POST", "/api/v1/namespaces/default/pods", {"metadata": {"name": "p"}})
    cluster.pod_logs[("default", "p")] = "a\nb\nc"

    _, tail = await cluster.call("GET", "/api/v1/namespaces/default/pods/p/log?tailLines=2")
    missing, _ = await cluster.call("GET", "/api/v1/namespaces/default/pods/q/log")

    assert tail == "b\nc\n" and missing == 404


async def test_admission_denials_store_nothing(cluster):
    cluster.admission = lambda request: "no" if request.name is None else None

    code, status = await cluster.call("POST", EXPERIMENTS, {"metadata": {"name": "e"}})

    assert code == 422 and status["reason"] == "Invalid" and status["message"].endswith("denied the request: no")
    assert cluster.live("ensemw2s.io/v1alpha1/ensemw2sexperiments") == []


async def test_the_emulator_is_reachable_with_a_plain_http_client(cluster, kubeconfig):
    server = json.loads(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    async with aiohttp.ClientSession() as session, session.get(f"{server}/version") as response:
        assert response.status == 200
