"""Every request the real operator makes is allowed by ``ensemw2s.operator.rbac.PERMISSIONS``, and every
required permission is used.

The operator runs as installed (the Deployment's arguments from ``manifests/install/operator.yaml``)
against the emulator, through a happy path (a multi-node strong stage: a headless Service), a failure
path (a pod retry, the final failure with a log tail, the retry annotation deleting the Job) and a
suspension. The emulator's ``observer`` records each request carrying the operator's credentials; each
is mapped to RBAC attributes as the API server does (``RequestInfo``) and checked against the permissions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kmock
import pytest
import yaml
from aiohttp import web
from ensemw2s.operator.rbac import PERMISSIONS, Permission, covering, is_discovery

ROOT = Path(__file__).resolve().parents[3]
NS = "default"
CRDS = "apiextensions.k8s.io/v1/customresourcedefinitions"
NOT_EXERCISED = {
    (
        "batch",
        "jobs",
        "get",
    ): "read after a 409 on create (lost create response): tests/operator/integration/test_k8s_api.py",
    (
        "",
        "services",
        "get",
    ): "read after a 409 on create (lost create response): tests/operator/integration/test_k8s_api.py",
    (
        "ensemw2s.io",
        "ensemw2sexperiments/finalizers",
        "update",
    ): "no request: admission (blockOwnerDeletion) checks it: tests/operator/unit/test_owner_rbac.py",
}
"""Required verbs that these scenarios cannot reach, and where they are exercised instead."""


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()

    def param(self, key: str) -> str | None:
        return next((value for name, value in self.query if name == key), None)


@dataclass(frozen=True)
class Attributes:
    """What RBAC authorizes a resource request by (``resource`` is ``"pods/log"`` for a subresource)."""

    api_group: str
    resource: str
    verb: str


def classify(request: ApiRequest) -> Attributes | None:
    """RBAC attributes of a resource request, as the API server's RequestInfo resolver derives them;
    None for a non-resource URL (``/api``, ``/apis/batch/v1``, ``/version``, ``/metrics``)."""
    parts = [part for part in request.path.split("/") if part]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return None
    watching = rest[0] == "watch"  # the deprecated /watch/ path prefix
    if watching:
        rest = rest[1:]
    if rest[0] == "namespaces" and len(rest) >= 3:  # /namespaces/NS/RESOURCE...; /namespaces/NAME is a namespace
        rest = rest[2:]
    resource, name, subresource = [*rest, None, None][:3]
    assert resource is not None
    watching = watching or request.param("watch") in ("true", "1")
    verbs = {"POST": "create", "PUT": "update", "PATCH": "patch"}
    if request.method in ("GET", "HEAD"):
        verb = "watch" if watching else "get" if name else "list"
    elif request.method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = verbs.get(request.method, request.method.lower())
    return Attributes(group, f"{resource}/{subresource}" if subresource else resource, verb)


def uncovered(requests: Iterable[ApiRequest], permissions: Sequence[Permission] = PERMISSIONS) -> list[str]:
    """One line per request that the permissions do not allow (discovery URLs are allowed to everyone)."""
    problems = []
    for request in requests:
        attributes = classify(request)
        if attributes is None:
            if not is_discovery(request.path):
                problems.append(f"{request.method} {request.path}: non-resource URL, not discovery")
        elif covering(attributes.api_group, attributes.resource, attributes.verb, permissions) is None:
            problems.append(
                f"{request.method} {request.path}: {attributes.verb} {attributes.resource}"
                f" in API group {attributes.api_group!r} is not in ensemw2s.operator.rbac.PERMISSIONS"
            )
    return sorted(set(problems))


def used(requests: Iterable[ApiRequest]) -> set[tuple[str, str, str]]:
    return {(a.api_group, a.resource, a.verb) for r in requests if (a := classify(r)) is not None}


def deployment_args() -> list[str]:
    documents = yaml.safe_load_all((ROOT / "manifests" / "install" / "operator.yaml").read_text(encoding="utf-8"))
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    return [str(arg) for arg in deployment["spec"]["template"]["spec"]["containers"][0]["args"]]


@pytest.fixture
def recorded(cluster: Any, kubeconfig: Path) -> list[ApiRequest]:
    """The requests made with the operator's credentials (the tests' own client sends none)."""
    token = json.loads(kubeconfig.read_text())["users"][0]["user"]["token"]
    requests: list[ApiRequest] = []

    def record(raw: web.BaseRequest) -> None:
        if raw.headers.get("Authorization") == f"Bearer {token}":
            requests.append(ApiRequest(raw.method, raw.path, tuple(raw.rel_url.query.items())))

    # Kopf lists and watches CRDs in a real cluster (the emulator serves none unless told to).
    cluster.resources[CRDS] = kmock.ResourceInfo(
        kind="CustomResourceDefinition", namespaced=False, verbs={"get", "list", "watch"}
    )
    cluster.observer = record
    return requests


# -- the operator, end to end -----------------------------------------------------------------------


async def test_every_request_of_the_installed_operator_is_covered(
    cluster, kubelet, operator, drive, experiment_spec, wait_for, recorded
):
    await operator(*deployment_args())

    # Happy path, with a two-node strong stage (a headless rendezvous Service).
    multi = experiment_spec(strong={"model": "tiny-strong", "nodes": 2, "resources": {"gpus": 1}})
    await cluster.create_experiment(NS, "happy", multi)
    await drive(NS, "happy")
    assert cluster.experiment(NS, "happy")["status"]["phase"] == "Succeeded"
    assert cluster.live("v1/services", NS), "the multi-node stage created no Service"

    # Failure path: a pod retry, the final failure (log tail), then the retry annotation (the Job is deleted).
    async def fail_twice(job: dict[str, Any]) -> None:
        await kubelet.fail(job, reason="OOMKilled", exit_code=137, log="step 1\nkilled", final=False)
        await kubelet.fail(job, reason="OOMKilled", exit_code=137, log="step 1\nkilled", final=True)

    await cluster.create_experiment(NS, "oom", experiment_spec())
    await drive(NS, "oom", fail={"weak-s1-r0": fail_twice})
    assert cluster.experiment(NS, "oom")["status"]["phase"] == "Failed"
    await cluster.patch_experiment(NS, "oom", {"metadata": {"annotations": {"ensemw2s.io/retry": "1"}}})
    await drive(NS, "oom", until="Succeeded")

    # Suspension: the running Job is patched.
    await cluster.create_experiment(NS, "pause", experiment_spec())
    prepare = (await wait_for(lambda: cluster.jobs(NS, "pause"), what="prepare"))[0]
    await kubelet.start(prepare)
    await cluster.patch_experiment(NS, "pause", {"spec": {"runPolicy": {"suspend": True}}})
    await wait_for(lambda: cluster.read("batch/v1/jobs", NS, "pause-prepare-s1")["spec"]["suspend"], what="suspend")
    for name in ("happy", "oom", "pause"):
        await cluster.delete_experiment(NS, name)

    assert uncovered(recorded) == []
    seen = used(recorded)
    assert ("batch", "jobs", "watch") in seen and ("", "events", "create") in seen  # Kopf's requests are recorded
    assert ("apiextensions.k8s.io", "customresourcedefinitions", "watch") in seen
    unused = [
        f"{p.describe()}: {verb} ({p.used_by})"
        for p in PERMISSIONS
        if not p.optional
        for verb in p.verbs
        if (p.api_group, p.resource, verb) not in seen and (p.api_group, p.resource, verb) not in NOT_EXERCISED
    ]
    assert unused == [], "required permissions no request used: drop them, or say in NOT_EXERCISED where they are"


async def test_every_request_of_a_namespaced_operator_is_covered(
    cluster, operator, experiment_spec, wait_for, recorded
):
    await operator("--namespace", NS)
    await cluster.create_experiment(NS, "one", experiment_spec())
    await wait_for(lambda: cluster.jobs(NS, "one"), what="the first Job")

    assert uncovered(recorded) == []
    assert {("", "namespaces", "list"), ("", "namespaces", "watch")} <= used(recorded)


# -- the checker itself -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/apis/batch/v1/namespaces/ns/jobs", {}, ("batch", "jobs", "list")),
        ("GET", "/apis/batch/v1/jobs", {"watch": "true"}, ("batch", "jobs", "watch")),
        ("GET", "/apis/batch/v1/watch/namespaces/ns/jobs", {}, ("batch", "jobs", "watch")),
        ("GET", "/apis/batch/v1/namespaces/ns/jobs/j", {}, ("batch", "jobs", "get")),
        ("POST", "/apis/batch/v1/namespaces/ns/jobs", {}, ("batch", "jobs", "create")),
        ("PATCH", "/apis/batch/v1/namespaces/ns/jobs/j/status", {}, ("batch", "jobs/status", "patch")),
        ("PUT", "/apis/batch/v1/namespaces/ns/jobs/j", {}, ("batch", "jobs", "update")),
        ("DELETE", "/apis/batch/v1/namespaces/ns/jobs/j", {}, ("batch", "jobs", "delete")),
        ("DELETE", "/apis/batch/v1/namespaces/ns/jobs", {}, ("batch", "jobs", "deletecollection")),
        ("GET", "/api/v1/namespaces", {}, ("", "namespaces", "list")),
        ("GET", "/api/v1/namespaces/ns", {}, ("", "namespaces", "get")),
        ("GET", "/api/v1/namespaces/ns/pods/p/log", {"tailLines": "20"}, ("", "pods/log", "get")),
        ("POST", "/api/v1/namespaces/ns/events", {}, ("", "events", "create")),
        ("GET", "/apis", {}, None),
        ("GET", "/apis/batch/v1", {}, None),
    ],
)
def test_requests_map_to_rbac_attributes(
    method: str, path: str, query: dict[str, str], expected: tuple[str, str, str] | None
) -> None:
    attributes = classify(ApiRequest(method, path, tuple(query.items())))
    assert (None if attributes is None else (attributes.api_group, attributes.resource, attributes.verb)) == expected


def test_requests_outside_the_permissions_are_reported() -> None:
    allowed = [
        ApiRequest("GET", "/apis"),
        ApiRequest("GET", "/apis/ensemw2s.io/v1alpha1"),
        ApiRequest("PATCH", "/apis/ensemw2s.io/v1alpha1/namespaces/ns/ensemw2sexperiments/x/status"),
        ApiRequest("GET", "/api/v1/namespaces/ns/pods/p/log"),
    ]
    denied = [
        ApiRequest("PUT", "/apis/ensemw2s.io/v1alpha1/namespaces/ns/ensemw2sexperiments/x"),  # update: only patch
        ApiRequest("DELETE", "/api/v1/namespaces/ns/pods/p"),
        ApiRequest("GET", "/api/v1/namespaces/ns/secrets", (("watch", "true"),)),
        ApiRequest("DELETE", "/apis/batch/v1/namespaces/ns/jobs"),  # deletecollection
        ApiRequest("GET", "/metrics"),  # a non-resource URL that is not discovery
    ]
    assert uncovered(allowed) == []
    problems = uncovered(allowed + denied)
    assert len(problems) == len(denied), problems
    assert any("update ensemw2sexperiments" in line for line in problems)
    assert any("watch secrets" in line for line in problems)
    assert any("/metrics: non-resource URL" in line for line in problems)

    without_logs = tuple(p for p in PERMISSIONS if p.resource != "pods/log")
    assert uncovered(allowed, without_logs) == [
        "GET /api/v1/namespaces/ns/pods/p/log: get pods/log in API group '' is not in ensemw2s.operator.rbac.PERMISSIONS"
    ]
