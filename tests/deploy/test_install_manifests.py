"""``manifests/install``: valid, generated where it should be, least privilege, restricted, and wired to the
operator's real defaults (ports, probe paths, flags)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiohttp
import pytest
import yaml
from ensemw2s.operator.crd import CRD_FILE
from ensemw2s.operator.metrics import MetricsServer, OperatorMetrics
from ensemw2s.operator.rbac import (
    CHART_PERMISSIONS_FILE,
    OPTIONAL_ANNOTATION,
    PERMISSIONS,
    RBAC_FILE,
    REGENERATE,
    cluster_role,
    granted,
    render_chart_permissions,
    user_roles,
)
from ensemw2s.operator.settings import DEFAULT_LIVENESS, DEFAULT_METRICS_PORT, parse_args

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "manifests" / "install"
EXAMPLES = ROOT / "manifests" / "examples"
HOW = f"the chart's RBAC is out of date with ensemw2s.operator.rbac; regenerate it: {REGENERATE}"
USER_ROLES_FILE = INSTALL / "user-roles.yaml"
Doc = dict[str, Any]


def documents(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def install() -> list[Doc]:
    return [
        doc for path in sorted(INSTALL.glob("*.yaml")) if path.name != "kustomization.yaml" for doc in documents(path)
    ]


def one(kind: str, docs: list[Doc] | None = None) -> Doc:
    found = [doc for doc in (install() if docs is None else docs) if doc["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def container() -> Doc:
    containers = one("Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def port_number(container: Doc, port: int | str) -> int:
    if isinstance(port, int):
        return port
    return int(next(p["containerPort"] for p in container["ports"] if p["name"] == port))


@pytest.mark.parametrize(
    "path", [*sorted(INSTALL.glob("*.yaml")), EXAMPLES / "artifacts-pvc.yaml"], ids=lambda p: p.name
)
def test_every_document_parses_with_the_standard_shape(path: Path) -> None:
    docs = documents(path)
    assert docs, f"{path}: no document"
    for doc in docs:
        assert isinstance(doc, dict) and {"apiVersion", "kind"} <= doc.keys(), f"{path}: {doc!r:.200}"
        if doc["kind"] != "Kustomization":
            assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", doc["metadata"]["name"]), doc["metadata"]


def test_the_charts_permissions_are_the_generated_ones() -> None:
    path = ROOT / CHART_PERMISSIONS_FILE
    assert path.is_file(), f"{path}: missing; {HOW}"
    assert path.read_text(encoding="utf-8") == render_chart_permissions(), HOW


def test_the_installed_cluster_role_grants_exactly_the_operators_permissions() -> None:
    """manifests/install/rbac.yaml is the chart rendered: its ClusterRole grants what :func:`cluster_role` does."""
    role = one("ClusterRole", documents(ROOT / RBAC_FILE))
    assert role["metadata"]["name"] == cluster_role()["metadata"]["name"]
    assert role["rules"] == cluster_role()["rules"], HOW


def test_the_installed_user_roles_are_the_generated_ones() -> None:
    installed = documents(USER_ROLES_FILE)
    assert [(r["metadata"]["name"], r["rules"]) for r in installed] == [
        (r["metadata"]["name"], r["rules"]) for r in user_roles()
    ], HOW
    for rendered, generated in zip(installed, user_roles(), strict=True):
        assert generated["metadata"]["labels"].items() <= rendered["metadata"]["labels"].items()


def test_the_aggregated_user_roles_let_namespace_users_edit_and_view_experiments() -> None:
    roles = {doc["metadata"]["name"]: doc for doc in documents(USER_ROLES_FILE)}
    assert sorted(roles) == ["ensemw2s-edit", "ensemw2s-view"]
    assert all(
        role["kind"] == "ClusterRole" and role["apiVersion"] == "rbac.authorization.k8s.io/v1"
        for role in roles.values()
    )
    aggregate = "rbac.authorization.k8s.io/aggregate-to-"
    edit, view = roles["ensemw2s-edit"], roles["ensemw2s-view"]
    assert {k: v for k, v in edit["metadata"]["labels"].items() if k.startswith(aggregate)} == {
        f"{aggregate}edit": "true",
        f"{aggregate}admin": "true",
    }
    assert {k: v for k, v in view["metadata"]["labels"].items() if k.startswith(aggregate)} == {
        f"{aggregate}view": "true"
    }

    def grants(role: Doc) -> set[tuple[str, str, str]]:
        return {
            (group, resource, verb)
            for rule in role["rules"]
            for group in rule["apiGroups"]
            for resource in rule["resources"]
            for verb in rule["verbs"]
        }

    experiments = ("ensemw2s.io", "ensemw2sexperiments")
    assert grants(edit) == {
        (*experiments, verb) for verb in ("create", "update", "patch", "delete", "get", "list", "watch")
    }
    read = ("get", "list", "watch")
    assert grants(view) == {(*experiments, verb) for verb in read} | {
        ("ensemw2s.io", "ensemw2sexperiments/status", verb) for verb in read
    }


def test_the_install_takes_the_generated_crd_through_its_kustomization() -> None:
    crd_kustomization = documents(ROOT / "manifests" / "crd" / "kustomization.yaml")[0]
    assert crd_kustomization["resources"] == [Path(CRD_FILE).name]
    assert "../crd" in documents(INSTALL / "kustomization.yaml")[0]["resources"]


def test_the_cluster_role_grants_least_privilege_and_marks_the_optional_permissions() -> None:
    role = cluster_role()
    verbs = {verb for rule in role["rules"] for verb in rule["verbs"]}
    assert verbs <= {"get", "list", "watch", "create", "patch", "delete", "update"}, "no deletecollection or *"
    updated = [resource for rule in role["rules"] if "update" in rule["verbs"] for resource in rule["resources"]]
    assert updated and all(r.endswith("/finalizers") for r in updated), "update only on finalizers (blockOwnerDeletion)"
    assert all("*" not in rule["apiGroups"] + rule["resources"] for rule in role["rules"])
    optional = [p for p in PERMISSIONS if p.optional]
    assert optional and all(p.optional_reason for p in optional)
    marks = role["metadata"]["annotations"][OPTIONAL_ANNOTATION].splitlines()
    assert len(marks) == len(optional) and all(p.describe() in "\n".join(marks) for p in optional)
    required = [p.rule() for p in PERMISSIONS if not p.optional]
    assert required == cluster_role(optional=())["rules"]
    assert len(granted(("namespaces",))) == len(required) + 1
    with pytest.raises(ValueError, match="not an optional permission"):
        granted(("jobs",))


def test_the_deployment_runs_as_the_bound_service_account() -> None:
    namespace = one("Namespace")["metadata"]["name"]
    account, binding = one("ServiceAccount"), one("ClusterRoleBinding")
    role = one("ClusterRole", documents(ROOT / RBAC_FILE))
    deployment = one("Deployment")
    assert deployment["metadata"]["namespace"] == account["metadata"]["namespace"] == namespace
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": namespace}
    ]


def test_the_container_is_restricted_and_sized() -> None:
    pod = one("Deployment")["spec"]["template"]["spec"]
    spec = container()
    context = {**pod.get("securityContext", {}), **spec["securityContext"]}
    assert context["runAsNonRoot"] is True and int(context["runAsUser"]) > 0
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"] and not context["capabilities"].get("add")
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    # The image's user and working directory: the same uid, and a writable emptyDir over the read-only root.
    dockerfile = (ROOT / "docker" / "operator.Dockerfile").read_text(encoding="utf-8")
    assert context["runAsUser"] == int(re.findall(r"^USER (\d+)", dockerfile, re.M)[-1])
    workdir = re.findall(r"^WORKDIR (\S+)", dockerfile, re.M)[-1]
    mount = next(m for m in spec["volumeMounts"] if m["mountPath"] == workdir)
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert "emptyDir" in volume and not mount.get("readOnly")
    assert spec["image"].startswith("ghcr.io/ensemw2s/operator:")
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= spec["resources"][kind].keys()
    labels = one("Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_flags_ports_and_probes_match_the_operator_defaults() -> None:
    deployment = one("Deployment")
    spec = container()
    config = parse_args(spec["args"], environ={})
    assert config.all_namespaces and config.standalone
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    assert config.metrics_port == DEFAULT_METRICS_PORT and config.liveness == DEFAULT_LIVENESS
    liveness = urlparse(DEFAULT_LIVENESS)
    probe = spec["livenessProbe"]["httpGet"]
    assert (port_number(spec, probe["port"]), probe["path"]) == (liveness.port, liveness.path)
    probe = spec["readinessProbe"]["httpGet"]
    assert (port_number(spec, probe["port"]), probe["path"]) == (DEFAULT_METRICS_PORT, "/readyz")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert (int(annotations["prometheus.io/port"]), annotations["prometheus.io/path"]) == (
        DEFAULT_METRICS_PORT,
        "/metrics",
    )
    template_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= template_labels.items()
    service = one("Service")
    assert service["spec"]["selector"].items() <= template_labels.items()
    assert service["metadata"]["namespace"] == deployment["metadata"]["namespace"]
    [port] = service["spec"]["ports"]
    assert port_number(spec, port["targetPort"]) == DEFAULT_METRICS_PORT and port["name"] == "metrics"


async def test_the_probed_paths_are_served_by_the_metrics_server(free_tcp_port: int) -> None:
    probe = container()["readinessProbe"]["httpGet"]["path"]
    scraped = one("Deployment")["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"]
    ready = False
    server = MetricsServer(OperatorMetrics(), ready=lambda: ready)
    await server.start("127.0.0.1", free_tcp_port)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{free_tcp_port}") as session:
            async with session.get(probe) as response:
                assert response.status == 503  # not ready until Kopf is
            ready = True
            async with session.get(probe) as response:
                assert response.status == 200
            async with session.get(scraped) as response:
                assert response.status == 200 and "ensemw2s_reconcile_total" in await response.text()
    finally:
        await server.stop()


@pytest.fixture
def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_kustomization_lists_every_manifest_and_only_existing_files() -> None:
    kustomization = documents(INSTALL / "kustomization.yaml")[0]
    listed = [name for name in kustomization["resources"] if name != "../crd"]
    assert all((INSTALL / name).is_file() and Path(name).parent == Path(".") for name in listed), listed
    present = sorted(p.name for p in INSTALL.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == present


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_kustomize_builds_the_install() -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(INSTALL)], capture_output=True, text=True, timeout=60, check=False
    )
    assert built.returncode == 0, built.stderr
    kinds = sorted(doc["kind"] for doc in yaml.safe_load_all(built.stdout) if doc)
    assert kinds == sorted(
        [
            "CustomResourceDefinition",
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRole",
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "Service",
        ]
    )


def test_the_artifacts_claim_is_the_one_the_examples_mount() -> None:
    claims = {doc["metadata"]["name"]: doc for doc in documents(EXAMPLES / "artifacts-pvc.yaml")}
    pvc = claims["ensemw2s-artifacts"]
    assert pvc["kind"] == "PersistentVolumeClaim" and pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pvc["spec"]["resources"]["requests"]["storage"] == "20Gi"
    mounted = set()
    for path in EXAMPLES.glob("*.yaml"):
        for doc in documents(path):
            if doc.get("kind") == "EnsemW2SExperiment" and (doc["spec"].get("storage") or {}).get("pvc"):
                mounted.add(doc["spec"]["storage"]["pvc"]["claimName"])
    assert "ensemw2s-artifacts" in mounted, mounted  # gpu-classification.yaml mounts ensemw2s-artifacts-rwx
