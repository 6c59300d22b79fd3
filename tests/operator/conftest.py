"""Fixtures of the operator tests: a Kubernetes API on localhost, a kubelet, and the real operator.

- :class:`ClusterEmulator` is KMock 0.8's ``KubernetesEmulator`` plus the API-server behaviours the
  operator relies on and KMock leaves out: uid, resourceVersion, generation and creationTimestamp
  on create, ``generateName``, generation bumps on spec changes, status-subresource semantics,
  label selectors on list and watch, watches that resume from a resourceVersion instead of
  replaying everything, ``GET /api/v1/namespaces`` (KMock's path parser crashes on it, which breaks
  a namespace-scoped Kopf), pod logs, finalizers (a DELETE of an object with finalizers only sets
  ``deletionTimestamp`` and a new resourceVersion; the object goes when a write leaves it without
  finalizers), and owner-reference garbage collection once an owner is really gone. The operator's code
  has no workaround for KMock: everything lives here.
- :class:`Kubelet` plays the Job controller and the kubelet: it starts pods for Jobs and writes
  their terminal states (termination messages carrying a ``StageSummary``) and the Job conditions.
- ``operator`` starts ``python -m ensemw2s.operator`` as a subprocess (cwd = a tmp dir, so the
  repository's ``operator/`` folder never shadows the stdlib) with ``KUBECONFIG`` naming a kubeconfig
  for the emulator: Kopf logs in through its own ``login_via_client``, as in a default deployment.
  A real process is what runs in a pod, it can be SIGKILLed to test restarts, and its event loop
  never competes with the emulator's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import signal
import socket
import sys
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import kmock
import pytest
from aiohttp import web
from ensemw2s.spec import API_GROUP, API_VERSION, KIND, PLURAL, StageSummary
from ensemw2s.spec.results import Accuracies, ExperimentResults, PGRs, SeedResults

EXPERIMENTS = f"{API_GROUP}/{API_VERSION}/{PLURAL}"
VERBS = {"create", "delete", "get", "list", "patch", "watch"}
RESOURCES: dict[str, kmock.ResourceInfo] = {
    EXPERIMENTS: kmock.ResourceInfo(
        kind=KIND, namespaced=True, verbs=VERBS, subresources={"status"}, shortnames={"w2sx"}
    ),
    "batch/v1/jobs": kmock.ResourceInfo(kind="Job", namespaced=True, verbs=VERBS, subresources={"status"}),
    "v1/pods": kmock.ResourceInfo(kind="Pod", namespaced=True, verbs=VERBS, subresources={"status", "log"}),
    "v1/services": kmock.ResourceInfo(kind="Service", namespaced=True, verbs=VERBS),
    "v1/events": kmock.ResourceInfo(kind="Event", namespaced=True, verbs=VERBS),
    "v1/namespaces": kmock.ResourceInfo(kind="Namespace", namespaced=False, verbs=VERBS),
    "kopf.dev/v1/kopfpeerings": kmock.ResourceInfo(kind="KopfPeering", namespaced=True, verbs=VERBS),
}
_REQUIREMENT = re.compile(
    r"\s*(?P<neg>!)?(?P<key>[A-Za-z0-9./_-]+)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[A-Za-z0-9._-]*)|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?\s*(?:,|$)"
)


def selector_matches(selector: str | None, labels: Mapping[str, str] | None) -> bool:
    """A Kubernetes label selector (equality- and set-based) against an object's labels."""
    labels = labels or {}
    pos, text = 0, (selector or "").strip()
    while pos < len(text):
        match = _REQUIREMENT.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"labelSelector: cannot parse (got {text!r})")
        pos = match.end()
        key, op, setop = match["key"], match["op"], match["setop"]
        if op in ("=", "=="):
            ok = labels.get(key) == match["value"]
        elif op == "!=":
            ok = labels.get(key) != match["value"]
        elif setop:
            values = {v.strip() for v in match["values"].split(",")}
            ok = (labels.get(key) in values) if setop == "in" else (labels.get(key) not in values)
        else:
            ok = (key in labels) != bool(match["neg"])
        if not ok:
            return False
    return True


def merge_patch(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch (None removes a key)."""
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = value
    return out


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


@attrs.define(kw_only=True)
class ClusterEmulator(kmock.KubernetesEmulator):
    """KMock with the API-server behaviours the operator relies on (see the module docstring)."""

    namespaces_known: set[str] = attrs.field(factory=lambda: {"default"})
    pod_logs: dict[tuple[str, str], str] = attrs.field(factory=dict)
    creations: Counter[tuple[str, str, str]] = attrs.field(factory=Counter)
    _revisions: Iterator[int] = attrs.field(factory=lambda: itertools.count(1))
    _revision: int = 0
    _closing: asyncio.Event = attrs.field(factory=asyncio.Event)
    received: deque[tuple[str, str, str]] = attrs.field(factory=lambda: deque(maxlen=10_000))
    """(method, path, content type) of recent requests, for assertions (KMock's own history is trimmed)."""
    admission: Callable[[kmock.Request], str | None] | None = None
    """An admission webhook: return a message to deny a create (HTTP 422, nothing stored)."""
    outage: Callable[[kmock.Request], bool] | None = None
    """Return True to answer a request with 503 before the emulator acts on it."""
    observer: Callable[[web.BaseRequest], None] | None = None
    """Called with every raw request (method, path, query, headers) before it is served."""

    def next_revision(self) -> str:
        self._revision = next(self._revisions)
        return str(self._revision)

    def close_streams(self) -> None:
        self._closing.set()

    def count_requests(self, method: str, path: str) -> int:
        """Requests with this method and path received so far: a clock for "nothing happened meanwhile"
        assertions (wait until a request that must come later has come, then count the unwanted ones)."""
        return sum(1 for seen, where, _ in self.received if seen == method and where == path)

    def experiment_reads(self, namespace: str, name: str) -> int:
        """GETs of one experiment: the operator's reconciler starts each reconciliation with one (Kopf
        itself watches lists and never reads a single experiment)."""
        return self.count_requests("GET", f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{namespace}/{PLURAL}/{name}")

    # -- request interception ----------------------------------------------------------------------

    async def __call__(self, raw_request: web.BaseRequest) -> web.StreamResponse:
        if self.observer is not None:
            self.observer(raw_request)
        if raw_request.path.rstrip("/") == "/api/v1/namespaces":
            return await self._serve_namespaces(raw_request)
        return await super().__call__(raw_request)

    async def _handle(self, request: kmock.Request) -> web.StreamResponse:
        assigned_uid = None
        doomed_uid = None
        self.received.append(
            (str(request.method.value), request.url.path, str(request.headers.get("Content-Type", "")))
        )
        if self.outage is not None and self.outage(request):
            self._forget(request)
            raise kmock.KubernetesError(status=503, reason="ServiceUnavailable", message="the server is unavailable")
        if request.action == kmock.action.CREATE and self.admission is not None:
            denial = self.admission(request)
            if denial is not None:
                self._forget(request)
                raise kmock.KubernetesError(
                    status=422,
                    reason="Invalid",
                    message=f'admission webhook "policy.example.com" denied the request: {denial}',
                )
        if request.resource is not None and isinstance(request.data, dict):
            if request.action == kmock.action.CREATE:
                assigned_uid = self._prepare_create(request)
            elif request.action == kmock.action.UPDATE and request.name:
                self._prepare_update(request)
        elif request.resource is not None and isinstance(request.data, list) and request.name:
            self._prepare_json_patch(request)
        if request.resource is not None and request.action == kmock.action.DELETE and request.name:
            doomed_uid = self._uid_of(request.resource, request.namespace, request.name)
            await self._mark_for_deletion(request.resource, request.namespace, request.name)
        elif request.resource is not None and request.action == kmock.action.UPDATE and request.name:
            doomed_uid = self._uid_of(request.resource, request.namespace, request.name, deleting=True)
        try:
            response = await super()._handle(request)
        finally:
            self._forget(request)
        if assigned_uid is not None and request.resource is not None:
            meta = _meta(request.data)
            namespace, name = request.namespace or meta.get("namespace"), str(meta.get("name"))
            stored = self._stored(request.resource, namespace, name)
            if stored is not None and _meta(stored).get("uid") == assigned_uid:
                self.creations[(str(request.resource.plural), str(namespace), name)] += 1
        if (
            doomed_uid is not None
            and request.resource is not None
            and response.status < 300
            and self._uid_of(request.resource, request.namespace, str(request.name)) != doomed_uid
        ):
            # Really gone (not just marked for deletion, not replaced by a namesake): collect its dependents.
            await self._collect_garbage({doomed_uid})
        return response

    def _forget(self, request: kmock.Request) -> None:
        """Keep only requests in flight: KMock matches each request by scanning every request it has
        ever seen (O(history) per request), which slows a long test to a crawl. No test here asserts
        on KMock's request history (``creations`` counts what matters)."""
        for index, seen in enumerate(self._requests):
            if seen is request:
                del self._requests[index]
                break

    def _prepare_create(self, request: kmock.Request) -> str:
        meta = request.data.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{uuid.uuid4().hex[:5]}"
        if request.namespace:
            meta.setdefault("namespace", request.namespace)
            self.namespaces_known.add(request.namespace)
        uid = str(uuid.uuid4())
        meta.update(uid=uid, resourceVersion=self.next_revision(), generation=1, creationTimestamp=_now())
        return uid

    def _stored(self, resource: kmock.resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        key: kmock.ObjectKey = (resource, namespace, name)
        return self.objects[key].raw if key in self.objects and not self.objects[key].deleted else None

    def _prepare_update(self, request: kmock.Request) -> None:
        assert request.resource is not None and request.name is not None
        current = self._stored(request.resource, request.namespace, request.name)
        if current is None:
            return  # KMock answers 404
        patch: dict[str, Any] = request.data
        # not .get(): ResourcesArray.__getitem__ creates missing entries
        info = self.resources[request.resource] if request.resource in self.resources else None  # noqa: SIM401
        has_status = info is not None and "status" in info.subresources
        if request.subresource == "status":
            for field in [field for field in patch if field != "status"]:
                del patch[field]
        elif request.subresource is None and has_status:
            patch.pop("status", None)
        meta_patch = patch.setdefault("metadata", {})
        meta_patch["resourceVersion"] = self.next_revision()
        if request.subresource is None and isinstance(patch.get("spec"), dict):
            spec = dict(current.get("spec") or {})
            if merge_patch(spec, patch["spec"]) != spec:
                meta_patch["generation"] = int(_meta(current).get("generation") or 1) + 1

    def _prepare_json_patch(self, request: kmock.Request) -> None:
        """A JSON patch (Kopf's finalizer and progress writes) bumps resourceVersion, and generation for /spec."""
        assert request.resource is not None and request.name is not None
        stored = self._stored(request.resource, request.namespace, request.name)
        if request.action != kmock.action.UPDATE or stored is None:
            return
        meta = _meta(stored)
        ops: list[dict[str, Any]] = request.data
        if request.subresource is None and any(str(op.get("path", "")).startswith("/spec") for op in ops):
            ops.append({"op": "replace", "path": "/metadata/generation", "value": int(meta.get("generation") or 1) + 1})
        ops.append({"op": "replace", "path": "/metadata/resourceVersion", "value": self.next_revision()})

    def _uid_of(
        self, resource: kmock.resource, namespace: str | None, name: str, *, deleting: bool = False
    ) -> str | None:
        """The stored object's uid (with ``deleting``: only if it is marked for deletion)."""
        stored = self._stored(resource, namespace, name)
        if stored is None or (deleting and not _meta(stored).get("deletionTimestamp")):
            return None
        return str(_meta(stored).get("uid"))

    async def _mark_for_deletion(self, resource: kmock.resource, namespace: str | None, name: str) -> None:
        """A DELETE of an object with finalizers sets ``deletionTimestamp`` and a new resourceVersion (a
        MODIFIED event); KMock then leaves it stored until a write removes its last finalizer."""
        key: kmock.ObjectKey = (resource, namespace, name)
        async with self._lock:
            stored = self._stored(resource, namespace, name)
            if stored is None or not _meta(stored).get("finalizers") or _meta(stored).get("deletionTimestamp"):
                return
            marked = {
                "deletionTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "deletionGracePeriodSeconds": 0,
                "resourceVersion": self.next_revision(),
            }
            self.objects[key].patch({"metadata": marked})
            await self._buses[resource].put({"type": "MODIFIED", "object": self.objects[key].raw})

    async def _collect_garbage(self, uids: set[str]) -> None:
        """Delete the dependents of deleted owners (background propagation, done at once)."""
        pending = set(uids)
        async with self._lock:
            while pending:
                victims = [
                    (key, obj)
                    for key, obj in self.objects.items()
                    if not obj.deleted
                    and any(ref.get("uid") in pending for ref in _meta(obj.raw).get("ownerReferences") or [])
                ]
                pending = set()
                for key, obj in victims:
                    raw = obj.raw
                    obj.delete()
                    pending.add(str(_meta(raw).get("uid")))
                    await self._buses[key[0]].put({"type": "DELETED", "object": raw})

    # -- responses ---------------------------------------------------------------------------------

    async def _serve_list(self, request: kmock.Request) -> Any:
        result: dict[str, Any] = await super()._serve_list(request)  # type: ignore[assignment]
        selector = request.params.get("labelSelector")
        items = [item for item in result["items"] if selector_matches(selector, _meta(item).get("labels"))]
        return {
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {"resourceVersion": str(self._revision)},
            "items": items,
        }

    async def _serve_watch(self, request: kmock.Request) -> AsyncIterator[Any]:
        selector = request.params.get("labelSelector")
        since = (
            int(request.params.get("resourceVersion") or 0)
            if (request.params.get("resourceVersion") or "").isdigit()
            else 0
        )
        async for item in super()._serve_watch(request):
            if isinstance(item, dict):
                obj = item.get("object") or {}
                if not selector_matches(selector, _meta(obj).get("labels")):
                    continue
                version = str(_meta(obj).get("resourceVersion") or "0")
                if since and item.get("type") != "DELETED" and version.isdigit() and int(version) <= since:
                    continue  # already in the listing the watch resumes from
            yield item

    async def _serve_fetch(self, request: kmock.Request) -> Any:
        if request.subresource == "log":
            if self._stored(kmock.resource("v1/pods"), request.namespace, str(request.name)) is None:
                raise kmock.KubernetesObjectNotFoundError()
            lines = self.pod_logs.get((str(request.namespace), str(request.name)), "").splitlines()
            tail = request.params.get("tailLines")
            if tail:
                lines = lines[-int(tail) :]
            return ("\n".join(lines) + "\n").encode() if lines else b""
        return await super()._serve_fetch(request)

    async def _serve_namespaces(self, raw_request: web.BaseRequest) -> web.StreamResponse:
        if raw_request.query.get("watch") == "true":
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(raw_request)
            while not self._closing.is_set():
                transport = raw_request.transport
                if transport is None or transport.is_closing():
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), 0.5)
            return response
        names = self.namespaces_known | {str(key[1]) for key in self.objects if key[1]}
        items = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}} for name in sorted(names)]
        return web.json_response(
            {
                "apiVersion": "v1",
                "kind": "NamespaceList",
                "metadata": {"resourceVersion": str(self._revision)},
                "items": items,
            }
        )

    # -- convenience for tests ---------------------------------------------------------------------

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """An HTTP call through the emulator's own client: writes go through the API, so watchers see them."""
        async with self.request(method, path, json=body) as response:
            text = await response.text()
            return response.status, (json.loads(text) if text.strip().startswith(("{", "[")) else text)

    def live(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        wanted = kmock.resource(resource)
        return [
            obj.raw
            for key, obj in self.objects.items()
            if key[0] == wanted and not obj.deleted and (namespace is None or key[1] == namespace)
        ]

    def read(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._stored(kmock.resource(resource), namespace, name)

    def jobs(self, namespace: str | None = None, experiment: str | None = None) -> list[dict[str, Any]]:
        jobs = self.live("batch/v1/jobs", namespace)
        if experiment is not None:
            jobs = [j for j in jobs if any(r.get("name") == experiment for r in _meta(j).get("ownerReferences") or [])]
        return sorted(jobs, key=lambda j: str(_meta(j).get("name")))

    def experiment(self, namespace: str, name: str) -> dict[str, Any]:
        found = self.read(EXPERIMENTS, namespace, name)
        assert found is not None, f"experiment {namespace}/{name} is gone"
        return found

    def events(self, namespace: str, name: str | None = None) -> list[dict[str, Any]]:
        events = self.live("v1/events", namespace)
        return [e for e in events if name is None or (e.get("involvedObject") or {}).get("name") == name]

    async def create_experiment(self, namespace: str, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        body = {
            "apiVersion": f"{API_GROUP}/{API_VERSION}",
            "kind": KIND,
            "metadata": {"name": name, "namespace": namespace},
            "spec": dict(spec),
        }
        status, data = await self.call("POST", f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{namespace}/{PLURAL}", body)
        assert status < 300, data
        return dict(data)

    async def patch_experiment(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        status, data = await self.call(
            "PATCH", f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{namespace}/{PLURAL}/{name}", dict(patch)
        )
        assert status < 300, data
        return dict(data)

    def experiment_or_none(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.read(EXPERIMENTS, namespace, name)

    async def delete_experiment(self, namespace: str, name: str) -> None:
        status, data = await self.call(
            "DELETE", f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{namespace}/{PLURAL}/{name}"
        )
        assert status < 300, data


class Kubelet:
    """The Job controller and the kubelet, as far as the operator can tell: pods, their ends, Job conditions."""

    def __init__(self, cluster: ClusterEmulator) -> None:
        self.cluster = cluster
        self._pods: Counter[tuple[str, str]] = Counter()
        self._running: dict[tuple[str, str], str] = {}

    @staticmethod
    def job_key(job: Mapping[str, Any]) -> tuple[str, str]:
        return str(_meta(job)["namespace"]), str(_meta(job)["name"])

    def stage(self, job: Mapping[str, Any]) -> str:
        return str(_meta(job)["labels"]["ensemw2s.io/stage"])

    async def _patch_job_status(self, job: Mapping[str, Any], status: Mapping[str, Any]) -> None:
        namespace, name = self.job_key(job)
        code, data = await self.cluster.call(
            "PATCH", f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}/status", {"status": dict(status)}
        )
        assert code < 300, data

    async def _create_pod(self, job: Mapping[str, Any], state: Mapping[str, Any], phase: str) -> str:
        namespace, job_name = self.job_key(job)
        self._pods[(namespace, job_name)] += 1
        name = f"{job_name}-{self._pods[(namespace, job_name)]}"
        labels = dict(job["spec"]["template"]["metadata"]["labels"])
        labels.update({"batch.kubernetes.io/job-name": job_name, "job-name": job_name})
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": labels,
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": job_name,
                        "uid": _meta(job)["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": job["spec"]["template"]["spec"],
            "status": {"phase": phase, "containerStatuses": [{"name": "trainer", "state": dict(state)}]},
        }
        code, data = await self.cluster.call("POST", f"/api/v1/namespaces/{namespace}/pods", pod)
        assert code < 300, data
        self._running[(namespace, job_name)] = name
        return name

    async def _end_pod(self, job: Mapping[str, Any], terminated: Mapping[str, Any], phase: str, log: str = "") -> None:
        """The running pod of the Job terminates (a pod is created first if none runs)."""
        namespace, job_name = self.job_key(job)
        name = self._running.pop((namespace, job_name), None)
        if name is None:
            name = await self._create_pod(job, {"running": {"startedAt": _now()}}, "Running")
            self._running.pop((namespace, job_name), None)
        if log:
            self.cluster.pod_logs[(namespace, name)] = log
        status = {"phase": phase, "containerStatuses": [{"name": "trainer", "state": {"terminated": dict(terminated)}}]}
        code, data = await self.cluster.call(
            "PATCH", f"/api/v1/namespaces/{namespace}/pods/{name}/status", {"status": status}
        )
        assert code < 300, data

    async def start(self, job: Mapping[str, Any]) -> None:
        await self._create_pod(job, {"running": {"startedAt": _now()}}, "Running")
        await self._patch_job_status(job, {"active": 1, "ready": 1, "startTime": _now()})

    async def succeed(self, job: Mapping[str, Any], summary: StageSummary | None = None) -> None:
        summary = summary or StageSummary(stage=self.stage(job), key="k", seconds=2.0, metrics={"accuracy": 0.7})
        terminated = {
            "exitCode": 0,
            "reason": "Completed",
            "message": summary.termination_message(),
            "finishedAt": _now(),
        }
        await self._end_pod(job, terminated, "Succeeded")
        now = _now()
        conditions = [
            {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now},
            {"type": "Complete", "status": "True", "lastTransitionTime": now},
        ]
        await self._patch_job_status(
            job, {"active": 0, "ready": 0, "succeeded": 1, "completionTime": now, "conditions": conditions}
        )

    async def fail(
        self,
        job: Mapping[str, Any],
        *,
        reason: str = "OOMKilled",
        exit_code: int = 137,
        log: str = "",
        final: bool = True,
    ) -> None:
        """The running pod fails; with ``final`` the Job gives up (BackoffLimitExceeded), else a new pod runs."""
        terminated = {"exitCode": exit_code, "reason": reason, "message": "", "finishedAt": _now()}
        await self._end_pod(job, terminated, "Failed", log=log)
        current = self.cluster.read("batch/v1/jobs", *self.job_key(job)) or {}
        failed = int((current.get("status") or {}).get("failed") or 0) + 1
        if not final:
            await self._create_pod(job, {"running": {"startedAt": _now()}}, "Running")
            await self._patch_job_status(job, {"active": 1, "ready": 1, "failed": failed})
            return
        condition = {
            "type": "Failed",
            "status": "True",
            "reason": "BackoffLimitExceeded",
            "message": "Job has reached the specified backoff limit",
            "lastTransitionTime": _now(),
        }
        await self._patch_job_status(job, {"active": 0, "ready": 0, "failed": failed, "conditions": [condition]})


def report_summary(experiment: str, pgr: float = 0.5) -> StageSummary:
    """The report stage's summary, with compact results as the trainer writes them."""
    results = ExperimentResults(
        experiment=experiment,
        seeds=[SeedResults(seed=1, chosen_round=2, accuracies=Accuracies(weak=0.6, ensemw2s=0.7, ceiling=0.8))],
        mean=Accuracies(weak=0.6, weak_ensemble=0.65, w2s=0.66, ensemw2s=0.7, ceiling=0.8),
        mean_pgr=PGRs(w2s_vs_weak=0.3, ensemw2s_vs_weak=pgr, ensemw2s_vs_ensemble=0.33),
    ).compact()
    return StageSummary(stage="report", key="r", seconds=1.0, results=results.model_dump(mode="json", by_alias=True))


def tiny_spec(**overrides: Any) -> dict[str, Any]:
    """One seed, two rounds, no baselines: prepare, weak-r0, weak-r1, aggregate, strong-ensemble, report."""
    spec: dict[str, Any] = {
        "seeds": [1],
        "dataset": {"name": "synthetic-sentiment", "sizes": {"easy": 8, "val": 4, "hardTrain": 8, "hardTest": 4}},
        "weak": {"model": "tiny-weak", "rounds": 2},
        "strong": {"model": "tiny-strong"},
        "baselines": {"w2s": False, "ceiling": False},
        "storage": {"pvc": {"claimName": "artifacts"}},
        "runPolicy": {"backoffLimit": 2},
    }
    for key, value in overrides.items():
        spec[key] = value
    return spec


async def eventually(
    check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll ``check`` until it returns a truthy value (returned) or raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if isinstance(last, Awaitable):
                last = await last
        except (AssertionError, KeyError) as exc:
            last = exc
        else:
            if last:
                return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


_PORTS = random.Random()


def free_port() -> int:
    """A free port *below* the kernel's ephemeral range: a port the kernel hands out (bind to 0) can be
    taken by any outgoing connection (the operator's own API client) before the operator binds it."""
    low, _ = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    for _ in range(200):
        port = _PORTS.randrange(max(1024, low - 12000), low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


class OperatorProcess:
    """``python -m ensemw2s.operator`` against the emulator; cwd is a tmp dir (never the repo root)."""

    def __init__(
        self,
        workdir: Path,
        kubeconfig: Path,
        args: list[str],
        env: Mapping[str, str] | None = None,
        *,
        kubeconfig_flag: bool = False,
    ) -> None:
        self.workdir = workdir
        self.kubeconfig = kubeconfig
        self.args = args
        self.env = dict(env or {})
        self.kubeconfig_flag = kubeconfig_flag
        """Pass ``--kubeconfig`` (the operator's forced login) instead of ``$KUBECONFIG`` (Kopf's own)."""
        self.metrics_port = free_port()
        self.liveness_port = free_port()
        self.log_path = workdir / f"operator-{self.metrics_port}.log"
        self.process: asyncio.subprocess.Process | None = None

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    async def start(self, timeout: float = 30.0) -> OperatorProcess:
        login = ["--kubeconfig", str(self.kubeconfig)] if self.kubeconfig_flag else []
        argv = [
            sys.executable, "-m", "ensemw2s.operator", *login,
            "--metrics-host", "127.0.0.1", "--metrics-port", str(self.metrics_port),
            "--liveness", f"http://127.0.0.1:{self.liveness_port}/healthz", *self.args,
        ]  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        env.pop("KUBECONFIG", None)
        if not self.kubeconfig_flag:
            env["KUBECONFIG"] = str(self.kubeconfig)
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *argv, cwd=self.workdir, env=env, stdout=log, stderr=asyncio.subprocess.STDOUT
            )
        await eventually(self._ready, timeout=timeout, interval=0.1, what=f"operator ready\n{self.log()[-3000:]}")
        return self

    async def _ready(self) -> bool:
        assert self.process is not None
        if self.process.returncode is not None:
            raise RuntimeError(f"operator exited with {self.process.returncode}:\n{self.log()[-5000:]}")
        try:
            async with aiohttp.ClientSession() as session, session.get(f"{self.metrics_url}/readyz") as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    async def scrape(self) -> str:
        async with aiohttp.ClientSession() as session, session.get(f"{self.metrics_url}/metrics") as response:
            assert response.status == 200
            return await response.text()

    async def stop(self, timeout: float = 15.0) -> int | None:
        if self.process is None or self.process.returncode is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            return await self.kill()

    async def kill(self) -> int | None:
        if self.process is None or self.process.returncode is not None:
            return None
        self.process.kill()
        return await self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
async def cluster() -> AsyncIterator[ClusterEmulator]:
    async with ClusterEmulator() as emulator, kmock.Server(emulator):
        for resource, info in RESOURCES.items():
            emulator.resources[resource] = info
        try:
            yield emulator
        finally:
            emulator.close_streams()


@pytest.fixture
def kubelet(cluster: ClusterEmulator) -> Kubelet:
    return Kubelet(cluster)


@pytest.fixture
def kubeconfig(cluster: ClusterEmulator, tmp_path: Path) -> Path:
    server = str(cluster.url).rstrip("/")
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kmock", "cluster": {"server": server}}],
        "users": [{"name": "tester", "user": {"token": "kmock"}}],
        "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "tester", "namespace": "default"}}],
        "current-context": "kmock",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
async def operator(
    kubeconfig: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[..., Awaitable[OperatorProcess]]]:
    """A factory: ``await operator("--namespace", "default")`` starts one; all are killed at the end."""
    started: list[OperatorProcess] = []

    async def start(
        *args: str, interval: float = 0.3, env: Mapping[str, str] | None = None, kubeconfig_flag: bool = False
    ) -> OperatorProcess:
        process = OperatorProcess(
            tmp_path, kubeconfig, [*args, "--reconcile-interval", str(interval)], env, kubeconfig_flag=kubeconfig_flag
        )
        started.append(process)
        return await process.start()

    yield start
    for process in started:
        await process.kill()  # a graceful stop waits out Kopf's 2 s exit timeout; test_cli.py tests it once
    failed = request.node.stash.get(_FAILED, False)
    if failed:
        for process in started:
            sys.stderr.write(f"\n--- operator log {process.log_path} ---\n{process.log()[-20000:]}\n")


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_FAILED] = True
    return report


@pytest.fixture
def drive(cluster: ClusterEmulator, kubelet: Kubelet) -> Callable[..., Awaitable[list[str]]]:
    """Run every stage Job of an experiment to success as the operator creates them; returns stage order."""

    async def run(
        namespace: str,
        name: str,
        timeout: float = 30.0,
        fail: Mapping[str, Callable[[Mapping[str, Any]], Awaitable[None]]] | None = None,
        until: str | None = None,
        poll: float = 0.05,
    ) -> list[str]:
        """``fail`` maps stage names to coroutines that end their Job instead; ``until`` waits for that phase."""
        done: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = cluster.experiment(namespace, name).get("status") or {}
            phase = status.get("phase")
            final = phase in ("Succeeded", "Failed", "Invalid") and status.get("observedGeneration")
            if (until is None and final) or (until is not None and phase == until):
                return done
            fresh = [
                job for job in cluster.jobs(namespace, name) if not job.get("status") and not job["spec"].get("suspend")
            ]
            for job in fresh:
                stage = kubelet.stage(job)
                await kubelet.start(job)
                if fail and stage in fail:
                    await fail[stage](job)
                elif stage == "report":
                    await kubelet.succeed(job, report_summary(name))
                else:
                    await kubelet.succeed(job)
                done.append(stage)
            await asyncio.sleep(poll)
        raise AssertionError(f"{namespace}/{name} did not finish in {timeout}s; done {done}; status {status}")

    return run


@pytest.fixture
def wait_for() -> Callable[..., Awaitable[Any]]:
    """``await wait_for(lambda: ..., timeout=..., what=...)``: poll until truthy (see :func:`eventually`)."""
    return eventually


@pytest.fixture
def experiment_spec() -> Callable[..., dict[str, Any]]:
    """``experiment_spec(**overrides)``: the tiny spec (1 seed, 2 rounds, no baselines) with top-level overrides."""
    return tiny_spec


@pytest.fixture
def cluster_api(kubeconfig: Path) -> Iterator[Any]:
    """The operator's API helper, in this process, against the emulator."""
    from ensemw2s.operator.k8s import ClusterApi, load_client_configuration

    api = ClusterApi(load_client_configuration(str(kubeconfig)), workers=4)
    yield api
    api.close()


@pytest.fixture
def unused_port() -> int:
    return free_port()
