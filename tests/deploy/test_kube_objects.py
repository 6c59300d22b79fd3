"""``kube_objects.validate_object``: built-in kinds strict against Kubernetes' schemas, custom resources strict
against their CRDs, unknown kinds rejected; and every object the operator builds passes it and the
restricted Pod Security Standard."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from ensemw2s.operator.jobs import Owner, build_cleanup_job, build_rendezvous_service, build_stage_job
from ensemw2s.spec import API_GROUP, API_VERSION, KIND, ExperimentManifest, StageKind, build_stage_graph, parse_manifest
from kubernetes_validate.utils import all_versions, major_minor
from packaging.version import Version

from .kube_objects import (
    KUBE_VERSION,
    OLDEST_KUBERNETES,
    VENDORED_CRDS,
    custom_kinds,
    schema_versions,
    validate_object,
)
from .pod_security import pod_security_violations, pod_templates

ROOT = Path(__file__).resolve().parents[2]
CHART_KOPF_CRDS = ROOT / "charts" / "ensemw2s" / "crds" / "kopf-peering.yaml"
Doc = dict[str, Any]

DEPLOYMENT: Doc = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "demo", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]},
        },
    },
}

JOB: Doc = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "j"},
    "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}},
}

EXPERIMENT: Doc = {
    "apiVersion": f"{API_GROUP}/{API_VERSION}",
    "kind": KIND,
    "metadata": {"name": "tiny", "namespace": "research"},
    "spec": {
        "seeds": [1],
        "dataset": {"name": "synthetic-sentiment", "sizes": {"easy": 60, "val": 20, "hardTrain": 60, "hardTest": 40}},
        "weak": {"model": "tiny-weak"},
        "strong": {"model": "tiny-strong"},
        "storage": {"pvc": {"claimName": "artifacts"}},
    },
}
SERVICE_MONITOR: Doc = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "ServiceMonitor",
    "metadata": {"name": "operator", "namespace": "ensemw2s-system"},
    "spec": {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "ensemw2s"}},
        "endpoints": [{"port": "metrics", "interval": "30s"}],
    },
}
POD_MONITOR: Doc = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PodMonitor",
    "metadata": {"name": "training", "namespace": "ensemw2s-system"},
    "spec": {
        "selector": {"matchLabels": {"app.kubernetes.io/managed-by": "ensemw2s-operator"}},
        "namespaceSelector": {"any": True},
        "podMetricsEndpoints": [{"port": "metrics"}],
    },
}
PROMETHEUS_RULE: Doc = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PrometheusRule",
    "metadata": {"name": "operator", "namespace": "ensemw2s-system"},
    "spec": {"groups": [{"name": "ensemw2s", "rules": [{"alert": "Down", "expr": "up == 0", "for": "5m"}]}]},
}
KOPF_PEERING: Doc = {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "ensemw2s"}}
CLUSTER_KOPF_PEERING: Doc = {
    "apiVersion": "kopf.dev/v1",
    "kind": "ClusterKopfPeering",
    "metadata": {"name": "ensemw2s"},
}


def changed(obj: Doc, path: str, value: Any) -> Doc:
    """A copy of ``obj`` with the dotted ``path`` set to ``value`` (list items by index)."""
    out = copy.deepcopy(obj)
    node: Any = out
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[int(last) if isinstance(node, list) else last] = value
    return out


def documents(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


# -- the schema version ---------------------------------------------------------------------------


def test_the_default_schema_version_is_the_lowest_shipped_one_we_support():
    shipped = sorted({major_minor(v) for v in all_versions()}, key=Version)
    assert schema_versions() == tuple(shipped)
    assert min((v for v in shipped if Version(v) >= Version(OLDEST_KUBERNETES)), key=Version) == KUBE_VERSION


def test_a_version_without_schemas_is_an_error():
    errors = validate_object(DEPLOYMENT, "1.20")
    assert len(errors) == 1 and "no schemas for Kubernetes 1.20" in errors[0] and KUBE_VERSION in errors[0]


# -- built-in kinds -------------------------------------------------------------------------------


def test_a_valid_deployment_passes():
    assert validate_object(DEPLOYMENT) == []
    assert validate_object(DEPLOYMENT, schema_versions()[-1]) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("spec.replica", 2, "spec: Additional properties are not allowed ('replica' was unexpected)"),
        ("spec.template.spec.containers.0", {"image": "nginx"}, "containers[0]: 'name' is a required property"),
        ("spec.replicas", "two", "spec.replicas: 'two' is not of type 'integer'"),
        ("metadata.labels", {"app": 1}, "metadata.labels.app: 1 is not of type 'string'"),
    ],
    ids=["typo", "required", "wrong-type", "metadata"],
)
def test_a_wrong_builtin_field_fails(path: str, value: Any, expected: str):
    errors = validate_object(changed(DEPLOYMENT, path, value))
    assert len(errors) == 1, errors
    assert errors[0].startswith("Deployment/demo/web: ") and expected in errors[0], errors


def test_a_field_newer_than_the_schema_version_fails_there_and_passes_later():
    """``Job.spec.podReplacementPolicy`` came in 1.28."""
    job = changed(JOB, "spec.podReplacementPolicy", "Failed")
    assert "('podReplacementPolicy' was unexpected)" in validate_object(job, "1.25")[0]
    assert validate_object(job, "1.28") == []


EXIT_CODE_RULE: Doc = {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [2]}}
CONDITION_RULE: Doc = {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}


def cron_job(job: Doc) -> Doc:
    return {**job, "kind": "CronJob", "spec": {"schedule": "@daily", "jobTemplate": {"spec": job["spec"]}}}


@pytest.mark.parametrize("wrap", [lambda job: job, cron_job], ids=["Job", "CronJob"])
@pytest.mark.parametrize("version", ["1.25", "1.28", "1.29"])
def test_an_exit_code_rule_of_a_pod_failure_policy_passes_though_old_schemas_require_pod_conditions(wrap, version):
    """Before 1.29 the schema requires ``onPodConditions`` in every rule; the API server does not."""
    job = changed(JOB, "spec.podFailurePolicy", {"rules": [EXIT_CODE_RULE, CONDITION_RULE]})
    assert validate_object(wrap(job), version) == []
    assert validate_object(job) == [] and "onPodConditions" not in job["spec"]["podFailurePolicy"]["rules"][0]


@pytest.mark.parametrize("wrap", [lambda job: job, cron_job], ids=["Job", "CronJob"])
def test_the_rest_of_a_job_with_an_exit_code_rule_is_still_validated(wrap):
    job = changed(JOB, "spec.podFailurePolicy", {"rules": [EXIT_CODE_RULE]})
    errors = validate_object(wrap(changed(job, "spec.backofLimit", 1)))
    assert len(errors) == 1 and "('backofLimit' was unexpected)" in errors[0], errors


def test_a_rule_without_exit_codes_still_needs_pod_conditions_before_1_29():
    job = changed(JOB, "spec.podFailurePolicy", {"rules": [{"action": "FailJob"}]})
    errors = validate_object(job, "1.25")
    assert len(errors) == 1 and "'onPodConditions' is a required property" in errors[0], errors


@pytest.mark.parametrize(
    "obj",
    [{"kind": "ConfigMap", "metadata": {"name": "x"}}, {"apiVersion": "v1", "metadata": {"name": "x"}}, {}],
    ids=["no-apiVersion", "no-kind", "empty"],
)
def test_an_object_without_apiversion_or_kind_fails(obj: Doc):
    errors = validate_object(obj)
    assert len(errors) == 1 and "apiVersion and kind must be non-empty strings" in errors[0]


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [("example.com/v1", "Widget"), ("monitoring.coreos.com/v1", "Probe"), ("apps/v1", "Deploymnet")],
)
def test_an_unknown_kind_fails(api_version: str, kind: str):
    errors = validate_object({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}})
    assert len(errors) == 1 and f"no schema for {kind} in {api_version}" in errors[0], errors


# -- custom resources -----------------------------------------------------------------------------


def test_the_custom_kinds_are_ours_prometheus_operators_and_kopfs():
    assert sorted(custom_kinds()) == [
        (f"{API_GROUP}/{API_VERSION}", KIND),
        ("kopf.dev/v1", "ClusterKopfPeering"),
        ("kopf.dev/v1", "KopfPeering"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ]


VALID_CUSTOM = [EXPERIMENT, SERVICE_MONITOR, POD_MONITOR, PROMETHEUS_RULE, KOPF_PEERING, CLUSTER_KOPF_PEERING]


@pytest.mark.parametrize("obj", VALID_CUSTOM, ids=lambda obj: obj["kind"])
def test_a_minimal_custom_resource_passes(obj: Doc):
    assert validate_object(obj) == []


@pytest.mark.parametrize(
    ("obj", "path", "value", "expected"),
    [
        (EXPERIMENT, "spec.weak.rouns", 3, "spec.weak: Additional properties are not allowed ('rouns' was unexpected)"),
        (EXPERIMENT, "spec.weak.rounds", 0, "spec.weak.rounds: 0 is less than the minimum of 1"),
        (EXPERIMENT, "metadata.nmae", "x", "metadata: Additional properties are not allowed ('nmae' was unexpected)"),
        (SERVICE_MONITOR, "spec.endpoints.0.intervall", "30s", "('intervall' was unexpected)"),
        (SERVICE_MONITOR, "spec.endpoints.0.scheme", "ftp", "spec.endpoints[0].scheme: 'ftp' is not one of"),
        (
            POD_MONITOR,
            "spec.podMetricsEndpoints",
            "metrics",
            "spec.podMetricsEndpoints: 'metrics' is not of type 'array'",
        ),
        (POD_MONITOR, "metadata.labels", {"team": 7}, "metadata.labels.team: 7 is not of type 'string'"),
        (PROMETHEUS_RULE, "spec.groups.0.rules.0.expresion", "up", "('expresion' was unexpected)"),
        (PROMETHEUS_RULE, "spec.groups.0.name", "", "spec.groups[0].name: '' should be non-empty"),
        (KOPF_PEERING, "spec", {"priority": 1}, "(the object): Additional properties are not allowed ('spec' was"),
        (CLUSTER_KOPF_PEERING, "status", "up", "status: 'up' is not of type 'object'"),
    ],
    ids=lambda value: value["kind"] if isinstance(value, dict) and "kind" in value else None,
)
def test_a_wrong_custom_resource_field_fails(obj: Doc, path: str, value: Any, expected: str):
    errors = validate_object(changed(obj, path, value))
    assert any(expected in error for error in errors), errors
    assert all(error.startswith(f"{obj['kind']}/") for error in errors), errors


def test_a_custom_resource_reports_every_problem():
    bad = changed(changed(EXPERIMENT, "spec.weak.rounds", 0), "spec.seeds", "one")
    errors = validate_object(bad)
    assert len(errors) == 2 and "spec.seeds" in errors[0] and "spec.weak.rounds" in errors[1], errors


def test_a_custom_resource_must_name_a_served_version():
    errors = validate_object({**EXPERIMENT, "apiVersion": f"{API_GROUP}/v1"})
    assert len(errors) == 1 and f"no schema for {KIND} in {API_GROUP}/v1" in errors[0]


# -- the files this library and the chart ship ----------------------------------------------------


def test_the_charts_kopf_crds_are_the_vendored_upstream_ones():
    upstream = [
        doc for doc in documents(VENDORED_CRDS / "kopf-peering.yaml") if doc["kind"] == "CustomResourceDefinition"
    ]
    assert documents(CHART_KOPF_CRDS) == upstream
    assert len(upstream) == 2


SHIPPED = sorted(
    [
        *(p for p in (ROOT / "manifests").rglob("*.yaml") if p.name != "kustomization.yaml"),
        *VENDORED_CRDS.glob("*.yaml"),
        CHART_KOPF_CRDS,
    ]
)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_shipped_and_vendored_object_is_valid(path: Path):
    docs = documents(path)
    assert docs, f"{path}: no objects"
    assert [error for doc in docs for error in validate_object(doc)] == []


# -- the objects the operator builds --------------------------------------------------------------

CLUSTER_EXAMPLES = sorted(
    path
    for path in (ROOT / "manifests" / "examples").glob("*.yaml")
    if any(doc.get("kind") == KIND for doc in documents(path))
)
EVERYTHING: Doc = {
    **EXPERIMENT,
    "metadata": {"name": "everything", "namespace": "research"},
    "spec": {
        **EXPERIMENT["spec"],
        "seeds": [1, 2],
        "weak": {"model": "tiny-weak", "rounds": 2, "resources": {"gpus": 1, "cpu": "2", "memory": "8Gi"}},
        "strong": {"model": "tiny-strong", "nodes": 3, "resources": {"gpus": 2, "cpu": "4", "memory": "16Gi"}},
        "storage": {"pvc": {"claimName": "artifacts", "subPath": "runs"}, "secretRef": "s3", "hfTokenSecretRef": "hf"},
        "runPolicy": {"backoffLimit": 1, "activeDeadlineSeconds": 600, "ttlSecondsAfterFinished": 60, "suspend": True},
        "scheduling": {
            "nodeSelector": {"gpu": "a100"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "priorityClassName": "research",
            "queueName": "gpu-queue",
        },
    },
}


def _manifests() -> list[ExperimentManifest]:
    examples = [parse_manifest(doc) for path in CLUSTER_EXAMPLES for doc in documents(path) if doc["kind"] == KIND]
    return [*examples, parse_manifest(EVERYTHING)]


def operator_objects(manifest: ExperimentManifest) -> list[Doc]:
    """Every object the operator creates for an experiment: stage Jobs, headless Services, the cleanup Job."""
    owner = Owner(f"{API_GROUP}/{API_VERSION}", KIND, manifest.name, manifest.namespace, f"uid-{manifest.name}")
    objects: list[Doc] = []
    for stage in build_stage_graph(manifest.spec).stages:
        objects.append(build_stage_job(manifest, stage, owner))
        service = build_rendezvous_service(manifest, stage, owner)
        if service is not None:
            objects.append(service)
    objects.append(build_cleanup_job(manifest, owner))
    return objects


MANIFESTS = _manifests()


def test_the_operator_objects_cover_every_stage_kind_and_multi_node():
    objects = [obj for manifest in MANIFESTS for obj in operator_objects(manifest)]
    names = {obj["metadata"]["name"] for obj in objects}
    for kind in StageKind:
        assert any(f"-{kind.value}" in name for name in names), kind
    assert any(obj["kind"] == "Service" for obj in objects)
    assert any(obj["spec"].get("completionMode") == "Indexed" for obj in objects if obj["kind"] == "Job")
    assert any(name.endswith("-cleanup") for name in names)


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda manifest: manifest.name)
def test_every_object_the_operator_builds_is_valid_and_restricted(manifest: ExperimentManifest):
    objects = operator_objects(manifest)
    assert [error for obj in objects for error in validate_object(obj)] == []
    jobs = [obj for obj in objects if obj["kind"] == "Job"]
    assert all(len(pod_templates(job)) == 1 for job in jobs)
    assert [problem for obj in objects for problem in pod_security_violations(obj)] == []
