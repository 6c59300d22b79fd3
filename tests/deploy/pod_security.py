"""The Kubernetes Pod Security Standards, ``restricted`` profile (``latest``), as a check of a pod spec.

What the Pod Security admission controller enforces in a namespace labelled
``pod-security.kubernetes.io/enforce: restricted``: the baseline rules (no host namespaces, no privileged
containers, only the default capabilities, no hostPath volumes or host ports, SELinux and AppArmor and
seccomp only in their safe settings, the default ``/proc`` mount, the safe sysctls) plus the restricted
ones (only the volume types without host access, no privilege escalation, non-root, a RuntimeDefault or
Localhost seccomp profile, every capability dropped but NET_BIND_SERVICE). Every ``containers``,
``initContainers`` and ``ephemeralContainers`` entry is checked. Linux pods: the exemptions of pods with
``spec.os.name: windows`` are not applied (a Windows pod is held to the Linux rules), nor the relaxations of
pods in a user namespace (``hostUsers: false``, alpha).

Source: https://kubernetes.io/docs/concepts/security/pod-security-standards/ (and the admission
controller's checks, k8s.io/pod-security-admission/policy).

Test helper module: ``from .pod_security import pod_security_violations, restricted_violations, pod_templates``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Doc = Mapping[str, Any]

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
"""Where each workload kind keeps its pod spec (its pod template's ``metadata`` is a sibling)."""

RESTRICTED_VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
ADDABLE_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})


def _mapping(value: Any) -> Doc:
    return value if isinstance(value, Mapping) else {}


def _dig(obj: Doc, path: tuple[str, ...]) -> Doc | None:
    node: Any = obj
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, Mapping) else None


def _templates(obj: Doc) -> list[tuple[str, Doc, Doc]]:
    """``(where, pod template metadata, pod spec)`` of each pod an object makes."""
    kind = str(obj.get("kind") or "")
    path = POD_SPEC_PATHS.get(kind)
    if path is None:
        return []
    spec = _dig(obj, path)
    if spec is None:
        return []
    metadata = _dig(obj, (*path[:-1], "metadata")) or {}
    name = _mapping(obj.get("metadata")).get("name") or "?"
    return [(f"{kind}/{name} {'.'.join(path)}", metadata, spec)]


def pod_templates(obj: Doc) -> list[tuple[str, Doc]]:
    """``(where, pod spec)`` of the pod a Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job or CronJob
    runs (``where`` names the object and the spec's path); ``[]`` for any other object."""
    return [(where, spec) for where, _, spec in _templates(obj)]


def _containers(pod_spec: Doc) -> Iterator[tuple[str, Doc]]:
    for field in CONTAINER_LISTS:
        for index, container in enumerate(pod_spec.get(field) or []):
            yield f"{field}[{_mapping(container).get('name') or index}]", _mapping(container)


def _problem(where: str, field: str, what: str, got: Any, fix: str) -> str:
    return f"{where}: {field}: {what} (got {got!r}); {fix}"


def _host_namespaces(where: str, pod_spec: Doc) -> Iterator[str]:
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(field):
            yield _problem(where, field, "host namespaces are not allowed", pod_spec[field], f"remove {field}")


def _volumes(where: str, pod_spec: Doc) -> Iterator[str]:
    allowed = ", ".join(sorted(RESTRICTED_VOLUME_TYPES))
    for index, volume in enumerate(pod_spec.get("volumes") or []):
        name = _mapping(volume).get("name") or index
        for source in sorted(set(_mapping(volume)) - {"name"} - RESTRICTED_VOLUME_TYPES):
            yield _problem(
                where, f"volumes[{name}].{source}", "volume type not allowed", source, f"use one of {allowed}"
            )


def _sysctls(where: str, pod_spec: Doc) -> Iterator[str]:
    context = _mapping(pod_spec.get("securityContext"))
    for sysctl in context.get("sysctls") or []:
        name = _mapping(sysctl).get("name")
        if name not in SAFE_SYSCTLS:
            yield _problem(
                where, "securityContext.sysctls", "only the safe sysctls are allowed", name, "remove this sysctl"
            )


def _apparmor_annotations(where: str, annotations: Doc) -> Iterator[str]:
    for key, value in annotations.items():
        if str(key).startswith(APPARMOR_ANNOTATION_PREFIX) and not (
            value == "runtime/default" or str(value).startswith("localhost/")
        ):
            yield _problem(
                where,
                f"metadata.annotations[{key}]",
                "AppArmor must not be disabled",
                value,
                "use runtime/default or localhost/<profile>, or remove the annotation",
            )


def _context_rules(where: str, field: str, context: Doc) -> Iterator[str]:
    """The rules a pod's and a container's securityContext share."""
    if _mapping(context.get("windowsOptions")).get("hostProcess"):
        yield _problem(
            where, f"{field}.windowsOptions.hostProcess", "host processes are not allowed", True, "remove it"
        )
    selinux = _mapping(context.get("seLinuxOptions"))
    if selinux.get("type", "") not in SELINUX_TYPES:
        yield _problem(
            where,
            f"{field}.seLinuxOptions.type",
            "only the container SELinux types are allowed",
            selinux["type"],
            f"use one of {', '.join(sorted(SELINUX_TYPES - {''}))} or remove it",
        )
    for key in ("user", "role"):
        if selinux.get(key):
            yield _problem(where, f"{field}.seLinuxOptions.{key}", "must not be set", selinux[key], "remove it")
    apparmor = _mapping(context.get("appArmorProfile"))
    if "type" in apparmor and apparmor["type"] not in APPARMOR_TYPES:
        yield _problem(
            where,
            f"{field}.appArmorProfile.type",
            "AppArmor must not be disabled",
            apparmor["type"],
            "use RuntimeDefault",
        )
    seccomp = _mapping(context.get("seccompProfile"))
    if "type" in seccomp and seccomp["type"] not in SECCOMP_TYPES:
        yield _problem(
            where,
            f"{field}.seccompProfile.type",
            "must be RuntimeDefault or Localhost",
            seccomp["type"],
            "use RuntimeDefault",
        )
    if context.get("runAsNonRoot") is False:
        yield _problem(where, f"{field}.runAsNonRoot", "must not be false", False, "set it to true or remove it")
    if context.get("runAsUser") == 0:
        yield _problem(where, f"{field}.runAsUser", "must not be 0 (root)", 0, "use a non-zero user id")


def _container_rules(where: str, field: str, container: Doc, pod_context: Doc) -> Iterator[str]:
    context = _mapping(container.get("securityContext"))
    yield from _context_rules(where, f"{field}.securityContext", context)
    if context.get("privileged"):
        yield _problem(where, f"{field}.securityContext.privileged", "must not be true", True, "remove it")
    if context.get("procMount", "Default") != "Default":
        yield _problem(
            where, f"{field}.securityContext.procMount", "must be Default", context["procMount"], "remove it"
        )
    if context.get("allowPrivilegeEscalation") is not False:
        yield _problem(
            where,
            f"{field}.securityContext.allowPrivilegeEscalation",
            "must be false",
            context.get("allowPrivilegeEscalation"),
            "set it to false",
        )
    capabilities = _mapping(context.get("capabilities"))
    added = sorted(set(capabilities.get("add") or []) - ADDABLE_CAPABILITIES)
    if added:
        yield _problem(
            where,
            f"{field}.securityContext.capabilities.add",
            "only NET_BIND_SERVICE may be added",
            added,
            "remove them",
        )
    if "ALL" not in (capabilities.get("drop") or []):
        yield _problem(
            where,
            f"{field}.securityContext.capabilities.drop",
            "must include ALL",
            capabilities.get("drop"),
            'set capabilities.drop: ["ALL"]',
        )
    if context.get("runAsNonRoot") is None and pod_context.get("runAsNonRoot") is not True:
        yield _problem(
            where,
            f"{field}.securityContext.runAsNonRoot",
            "must be true here or in the pod's securityContext",
            None,
            "set securityContext.runAsNonRoot: true on the pod",
        )
    if "type" not in _mapping(context.get("seccompProfile")) and "type" not in _mapping(
        pod_context.get("seccompProfile")
    ):
        yield _problem(
            where,
            f"{field}.securityContext.seccompProfile.type",
            "must be RuntimeDefault or Localhost here or in the pod's securityContext",
            None,
            "set securityContext.seccompProfile.type: RuntimeDefault on the pod",
        )
    for index, port in enumerate(container.get("ports") or []):
        if _mapping(port).get("hostPort"):
            name = _mapping(port).get("name") or index
            yield _problem(
                where, f"{field}.ports[{name}].hostPort", "host ports are not allowed", port["hostPort"], "remove it"
            )


def restricted_violations(pod_spec: Doc, where: str, *, annotations: Doc | None = None) -> list[str]:
    """Every way ``pod_spec`` breaks the restricted Pod Security Standard, one line each; ``[]`` if none.

    ``annotations``: the pod's (its template's) metadata annotations, for the AppArmor annotation rule.
    """
    pod_context = _mapping(pod_spec.get("securityContext"))
    found = [
        *_host_namespaces(where, pod_spec),
        *_volumes(where, pod_spec),
        *_sysctls(where, pod_spec),
        *_apparmor_annotations(where, annotations or {}),
        *_context_rules(where, "securityContext", pod_context),
    ]
    for field, container in _containers(pod_spec):
        found += _container_rules(where, field, container, pod_context)
    return found


def pod_security_violations(obj: Doc) -> list[str]:
    """:func:`restricted_violations` of every pod an object makes (see :func:`pod_templates`)."""
    return [
        problem
        for where, metadata, spec in _templates(obj)
        for problem in restricted_violations(spec, where, annotations=_mapping(metadata.get("annotations")))
    ]


__all__ = [
    "CONTAINER_LISTS",
    "POD_SPEC_PATHS",
    "RESTRICTED_VOLUME_TYPES",
    "SAFE_SYSCTLS",
    "pod_security_violations",
    "pod_templates",
    "restricted_violations",
]
