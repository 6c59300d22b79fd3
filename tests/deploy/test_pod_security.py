"""``pod_security``: the restricted Pod Security Standard: a compliant pod passes, each rule has a pod that
breaks it, and every workload kind's pod template is found."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from .pod_security import CONTAINER_LISTS, POD_SPEC_PATHS, pod_security_violations, pod_templates, restricted_violations

Doc = dict[str, Any]
RESTRICTED_CONTEXT: Doc = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}
COMPLIANT: Doc = {
    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
    "initContainers": [{"name": "init", "image": "busybox", "securityContext": RESTRICTED_CONTEXT}],
    "containers": [
        {
            "name": "app",
            "image": "busybox",
            "ports": [{"name": "http", "containerPort": 8080}],
            "securityContext": {**RESTRICTED_CONTEXT, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
        }
    ],
    "ephemeralContainers": [{"name": "debug", "image": "busybox", "securityContext": RESTRICTED_CONTEXT}],
    "volumes": [
        {"name": "tmp", "emptyDir": {}},
        {"name": "config", "configMap": {"name": "c"}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "d"}},
        {"name": "token", "projected": {"sources": []}},
        {"name": "creds", "secret": {"secretName": "s"}},
        {"name": "info", "downwardAPI": {"items": []}},
        {"name": "csi", "csi": {"driver": "d"}},
        {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
    ],
}
WHERE = "Pod/p spec"


def changed(path: str, value: Any, pod: Doc = COMPLIANT) -> Doc:
    """A copy of ``pod`` with the dotted ``path`` set to ``value`` (list items by index; ``None`` deletes)."""
    out = copy.deepcopy(pod)
    node: Any = out
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if value is None:
        node.pop(last, None)
    else:
        node[int(last) if isinstance(node, list) else last] = value
    return out


def test_a_compliant_pod_passes():
    assert restricted_violations(COMPLIANT, WHERE) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("securityContext.seccompProfile", None),  # every container sets its own
        ("securityContext.runAsNonRoot", None),  # every container sets its own
        ("securityContext.seLinuxOptions", {"type": "container_init_t", "level": "s0:c1,c2"}),
        ("securityContext.sysctls", [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]),
        ("securityContext.appArmorProfile", {"type": "RuntimeDefault"}),
        ("containers.0.securityContext.appArmorProfile", {"type": "Localhost", "localhostProfile": "p"}),
        ("containers.0.securityContext.procMount", "Default"),
        ("containers.0.securityContext.privileged", False),
        ("containers.0.ports.0.hostPort", 0),
        ("hostNetwork", False),
    ],
)
def test_allowed_settings_pass(path: str, value: Any):
    """Each container also sets runAsNonRoot and a seccomp profile, so the pod's may go."""
    pod = changed(path, value)
    for field in CONTAINER_LISTS:
        pod = changed(f"{field}.0.securityContext.runAsNonRoot", True, pod)
        pod = changed(f"{field}.0.securityContext.seccompProfile", {"type": "Localhost", "localhostProfile": "p"}, pod)
    assert restricted_violations(pod, WHERE) == []


VIOLATIONS = [
    # baseline
    ("hostNetwork", True, "hostNetwork: host namespaces are not allowed"),
    ("hostPID", True, "hostPID: host namespaces are not allowed"),
    ("hostIPC", True, "hostIPC: host namespaces are not allowed"),
    ("securityContext.windowsOptions", {"hostProcess": True}, "securityContext.windowsOptions.hostProcess"),
    (
        "containers.0.securityContext.windowsOptions",
        {"hostProcess": True},
        "containers[app].securityContext.windowsOptions.hostProcess",
    ),
    ("containers.0.securityContext.privileged", True, "containers[app].securityContext.privileged: must not be true"),
    (
        "initContainers.0.securityContext.capabilities.add",
        ["SYS_ADMIN"],
        "initContainers[init].securityContext.capabilities.add: only NET_BIND_SERVICE",
    ),
    ("containers.0.securityContext.capabilities.add", ["NET_BIND_SERVICE", "CHOWN"], "(got ['CHOWN'])"),
    ("volumes.0", {"name": "host", "hostPath": {"path": "/"}}, "volumes[host].hostPath: volume type not allowed"),
    (
        "containers.0.ports.0.hostPort",
        8080,
        "containers[app].ports[http].hostPort: host ports are not allowed (got 8080)",
    ),
    (
        "securityContext.seLinuxOptions",
        {"type": "spc_t"},
        "securityContext.seLinuxOptions.type: only the container SELinux types",
    ),
    (
        "containers.0.securityContext.seLinuxOptions",
        {"user": "root"},
        "containers[app].securityContext.seLinuxOptions.user: must not be set",
    ),
    ("securityContext.seLinuxOptions", {"role": "sysadm_r"}, "securityContext.seLinuxOptions.role: must not be set"),
    (
        "containers.0.securityContext.procMount",
        "Unmasked",
        "containers[app].securityContext.procMount: must be Default (got 'Unmasked')",
    ),
    (
        "securityContext.sysctls",
        [{"name": "kernel.msgmax", "value": "1"}],
        "securityContext.sysctls: only the safe sysctls are allowed (got 'kernel.msgmax')",
    ),
    (
        "securityContext.appArmorProfile",
        {"type": "Unconfined"},
        "securityContext.appArmorProfile.type: AppArmor must not be disabled",
    ),
    (
        "ephemeralContainers.0.securityContext.appArmorProfile",
        {"type": "Unconfined"},
        "ephemeralContainers[debug].securityContext.appArmorProfile.type",
    ),
    (
        "securityContext.seccompProfile",
        {"type": "Unconfined"},
        "securityContext.seccompProfile.type: must be RuntimeDefault or Localhost (got 'Unconfined')",
    ),
    # restricted
    ("volumes.0", {"name": "nfs", "nfs": {"server": "s", "path": "/"}}, "volumes[nfs].nfs: volume type not allowed"),
    (
        "containers.0.securityContext.allowPrivilegeEscalation",
        None,
        "containers[app].securityContext.allowPrivilegeEscalation: must be false (got None)",
    ),
    (
        "ephemeralContainers.0.securityContext.allowPrivilegeEscalation",
        True,
        "ephemeralContainers[debug].securityContext.allowPrivilegeEscalation: must be false (got True)",
    ),
    (
        "securityContext.runAsNonRoot",
        None,
        "containers[app].securityContext.runAsNonRoot: must be true here or in the pod's",
    ),
    ("securityContext.runAsNonRoot", False, "securityContext.runAsNonRoot: must not be false"),
    (
        "initContainers.0.securityContext.runAsNonRoot",
        False,
        "initContainers[init].securityContext.runAsNonRoot: must not be false",
    ),
    ("securityContext.runAsUser", 0, "securityContext.runAsUser: must not be 0 (root)"),
    ("containers.0.securityContext.runAsUser", 0, "containers[app].securityContext.runAsUser: must not be 0"),
    (
        "securityContext.seccompProfile",
        None,
        "initContainers[init].securityContext.seccompProfile.type: must be RuntimeDefault or Localhost here or in the pod's",
    ),
    (
        "containers.0.securityContext.seccompProfile",
        {"type": "Unconfined"},
        "containers[app].securityContext.seccompProfile.type: must be RuntimeDefault",
    ),
    (
        "containers.0.securityContext.capabilities",
        None,
        "containers[app].securityContext.capabilities.drop: must include ALL (got None)",
    ),
    (
        "initContainers.0.securityContext.capabilities.drop",
        ["NET_RAW"],
        "initContainers[init].securityContext.capabilities.drop: must include ALL (got ['NET_RAW'])",
    ),
]


@pytest.mark.parametrize(("path", "value", "expected"), VIOLATIONS, ids=[f"{p}={v}" for p, v, _ in VIOLATIONS])
def test_each_rule_reports_its_violation(path: str, value: Any, expected: str):
    violations = restricted_violations(changed(path, value), WHERE)
    assert any(expected in line for line in violations), violations
    assert all(line.startswith(f"{WHERE}: ") and " (got " in line and "); " in line for line in violations)


def test_a_container_without_a_name_is_named_by_its_index():
    pod = changed("containers.0.name", None)
    pod = changed("containers.0.securityContext.privileged", True, pod)
    assert restricted_violations(pod, WHERE) == [
        f"{WHERE}: containers[0].securityContext.privileged: must not be true (got True); remove it"
    ]


@pytest.mark.parametrize(
    ("value", "ok"),
    [("runtime/default", True), ("localhost/profile", True), ("unconfined", False), ("", False)],
)
def test_the_apparmor_annotation_must_not_disable_apparmor(value: str, ok: bool):
    key = "container.apparmor.security.beta.kubernetes.io/app"
    violations = restricted_violations(COMPLIANT, WHERE, annotations={key: value, "team": "x"})
    assert violations == (
        []
        if ok
        else [
            f"{WHERE}: metadata.annotations[{key}]: AppArmor must not be disabled (got {value!r}); use runtime/default or localhost/<profile>, or remove the annotation"
        ]
    )


def workload(kind: str, pod: Doc, annotations: Doc | None = None) -> Doc:
    """An object of ``kind`` whose pod (template) has the spec ``pod`` and the ``annotations``."""
    metadata = {"annotations": annotations or {}}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": kind, "metadata": {"name": "w", **metadata}, "spec": pod}
    *outer, _ = POD_SPEC_PATHS[kind]
    node: Doc = {"metadata": metadata, "spec": pod}
    for key in reversed(outer[1:]):
        node = {key: node}
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": "w"}, outer[0]: node}


@pytest.mark.parametrize("kind", sorted(POD_SPEC_PATHS))
def test_pod_templates_finds_the_pod_of_every_workload_kind(kind: str):
    obj = workload(kind, COMPLIANT)
    assert pod_templates(obj) == [(f"{kind}/w {'.'.join(POD_SPEC_PATHS[kind])}", COMPLIANT)]
    assert pod_security_violations(obj) == []
    bad = workload(kind, changed("hostPID", True), {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"})
    assert [line.split(": ")[1] for line in pod_security_violations(bad)] == [
        "hostPID",
        "metadata.annotations[container.apparmor.security.beta.kubernetes.io/app]",
    ]


@pytest.mark.parametrize(
    "obj",
    [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s"},
            "spec": {"template": {"spec": {"hostPID": True}}},
        },
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {}},
        {"apiVersion": "v1", "kind": "ConfigMap"},
    ],
    ids=["not-a-workload", "no-template", "no-spec"],
)
def test_objects_without_a_pod_have_no_pod_templates(obj: Doc):
    assert pod_templates(obj) == [] and pod_security_violations(obj) == []
