"""The Helm chart on a real API server: rendered (Helm as a library), applied whole, and its operator, logged
in with the chart's ServiceAccount token and nothing else, takes an experiment to Succeeded, watching every
namespace (a ClusterRole) or only the experiment's (a Role there, and a ClusterRole that lists namespaces
and CRDs, which Kopf reads with ``--namespace``). The experiment's
namespace has a ResourceQuota on requests, which admits only pods with requests: the chart's stage defaults
give every stage pod requests when the spec sets none. No request of the operator may be forbidden."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ensemw2s.operator.status_model import Phase
from kubernetes import client

from .conftest import (
    EXPERIMENT,
    OperatorProcess,
    experiment_manifest,
    service_account_kubeconfig,
)

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = re.compile(r"forbidden|\b403\b|not enough permissions", re.IGNORECASE)
QUOTA = {"requests.cpu": "64", "requests.memory": "256Gi", "limits.memory": "256Gi"}
"""A quota on requests: the API server refuses a pod without cpu and memory requests (and a memory limit)."""


def render(values: dict[str, Any], release: str, namespace: str) -> list[dict[str, Any]]:
    spec = importlib.util.spec_from_file_location("render_manifests", REPO / "tools" / "render_manifests.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = tool
    spec.loader.exec_module(tool)
    rendered = tool.render_chart(values, release=release, namespace=namespace)
    return [doc for name, text in rendered.items() if name.endswith(".yaml") for doc in yaml.safe_load_all(text) if doc]


@pytest.mark.parametrize("scope", ["cluster-wide", "namespaced"])
def test_the_chart_installs_and_its_operator_takes_an_experiment_to_succeeded(
    scope, control_plane, admin, operator, kubelet, namespace, stage_outcomes, tmp_path
):
    release = f"chart-{scope.split('-')[0]}"
    release_namespace = f"{release}-system"
    core = client.CoreV1Api(admin)
    core.create_namespace({"metadata": {"name": release_namespace}})
    core.create_namespaced_resource_quota(namespace, {"metadata": {"name": "quota"}, "spec": {"hard": QUOTA}})
    values = {"watchNamespaces": [namespace]} if scope == "namespaced" else {}
    objects = render(values, release, release_namespace)
    applied = control_plane.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(objects))
    assert applied.returncode == 0, applied.stderr

    bindings = {doc["roleRef"]["name"] for doc in objects if doc["kind"] == "ClusterRoleBinding"}
    # Watching named namespaces, the operator's only cluster-wide grant is the read-only list of namespaces and CRDs.
    assert bindings == (
        {f"{release}-ensemw2s-operator-cluster-reads"} if scope == "namespaced" else {f"{release}-ensemw2s-operator"}
    )
    assert any(doc["kind"] == "RoleBinding" for doc in objects) is (scope == "namespaced")
    [deployment] = [doc for doc in objects if doc["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    account = pod["serviceAccountName"]
    kubeconfig = service_account_kubeconfig(control_plane, admin, release_namespace, account, tmp_path / "kubeconfig")
    chart_operator = OperatorProcess(
        kubeconfig,
        tmp_path,
        args=tuple(container["args"]),
        environment={e["name"]: e["value"] for e in container["env"]},
    )
    operator.stop()  # the suite's operator watches every namespace: one operator per experiment at a time
    try:
        chart_operator.start()
        control_plane.apply(experiment_manifest(namespace))
        kubelet.drive(namespace, EXPERIMENT, timeout=90)
        status = kubelet.status(namespace, EXPERIMENT)
        assert status["phase"] == Phase.SUCCEEDED.value, status.get("message")
    finally:
        chart_operator.stop()
        operator.start()

    forbidden = [line for line in chart_operator.log().splitlines() if FORBIDDEN.search(line)]
    assert forbidden == [], "\n".join(forbidden)
    stage_defaults = json.loads(container["env"][0]["value"])
    requests = {
        job.metadata.labels["ensemw2s.io/stage"]: job.spec.template.spec.containers[0].resources.requests
        for job in client.BatchV1Api(admin).list_namespaced_job(namespace).items
    }
    weak = stage_defaults["weak"]
    assert requests["weak-s1-r0"] == {"cpu": weak["cpu"], "memory": weak["memory"]}
    strong = stage_defaults["strong"]
    assert requests["strong-s1-ceiling"] == {"cpu": strong["cpu"], "memory": strong["memory"]}
