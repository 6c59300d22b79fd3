"""The operator's RBAC as data: every API call it makes (its own and Kopf's), and the rules the chart grants.

One source of truth: :data:`PERMISSIONS` lists each (API group, resource, verbs) the operator uses and
why. :func:`main` writes them as data into the chart (``charts/ensemw2s/files/operator-permissions.yaml``,
:func:`chart_permissions`), whose templates grant them as a ClusterRole (all namespaces) or a Role in each
watched namespace; ``manifests/install`` is rendered from the chart (``tools/render_manifests.py``). The
integration test ``tests/operator/integration/test_rbac_coverage.py`` records every request the real
operator makes and checks each is covered here; ``tests/deploy`` checks the chart's file and the rendered
manifests are the generated ones. Regenerate both after changing :data:`PERMISSIONS`::

    cd /tmp && python -c "from ensemw2s.operator.rbac import main; main()" && python $OLDPWD/tools/render_manifests.py

A permission with an ``optional_reason`` is not needed by the installed mode (``--all-namespaces
--standalone``) or is one Kopf degrades gracefully without; :func:`cluster_role` grants it only when
asked, and marks every optional permission (granted or not) in an annotation. Discovery (``/api``,
``/apis/...``) needs no rule: the built-in ``system:discovery`` ClusterRole grants it to every
authenticated client (:data:`DISCOVERY`).

The aggregated user ClusterRoles (:func:`user_roles`): ``ensemw2s-edit`` (aggregated into the built-in
``edit`` and ``admin`` roles) and ``ensemw2s-view`` (into ``view``), so that whoever holds those roles in a
namespace (a RoleBinding) can create and read experiments there without cluster-admin.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ensemw2s.operator.generated import write_generated
from ensemw2s.spec import API_GROUP, PLURAL

SYSTEM_NAMESPACE = "ensemw2s-system"
NAME = "ensemw2s-operator"
"""Name of the ServiceAccount, ClusterRole and ClusterRoleBinding (and the Deployment)."""
INSTALL_OPTIONAL = ("customresourcedefinitions",)
NAMESPACED_OPTIONAL = ("customresourcedefinitions", "namespaces")
"""What an install watching named namespaces grants cluster-wide (list and watch only): with
``--namespace`` Kopf lists namespaces and CRDs, and each refused request is retried and logged as an error
before it degrades (seen on a real API server: tests/cluster/test_chart.py)."""
"""Optional permissions the plain install grants: with them Kopf notices the CRD even when it is
established after the operator started (``kubectl apply -k`` applies both at once)."""
OPTIONAL_ANNOTATION = "ensemw2s.io/optional-permissions"
RBAC_FILE = Path("manifests") / "install" / "rbac.yaml"
"""Rendered from the chart (the ServiceAccount, the ClusterRole and its binding)."""
CHART_PERMISSIONS_FILE = Path("charts") / "ensemw2s" / "files" / "operator-permissions.yaml"
"""The rules as data for the chart's RBAC templates (``.Files.Get``): the chart renders the Roles, the
ClusterRole and the user roles from it, and ``manifests/install`` is rendered from the chart."""
PEERING = {"namespaced": "kopfpeerings", "clusterWide": "clusterkopfpeerings"}
"""The peering permission of each scope (``--peering`` with ``--namespace``, with ``--all-namespaces``)."""
EDIT_ROLE = "ensemw2s-edit"
VIEW_ROLE = "ensemw2s-view"
AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"
"""Label prefix of ClusterRole aggregation into the built-in ``admin``, ``edit`` and ``view`` roles."""
REGENERATE = (
    'cd /tmp && python -c "from ensemw2s.operator.rbac import main; main()" && python $OLDPWD/tools/render_manifests.py'
)
HEADER = (
    "# Generated from ensemw2s.operator.rbac.PERMISSIONS; do not edit.\n"
    f"# Regenerate: {REGENERATE}\n"
    "# Optional permissions (granted or not) are listed in the ClusterRole's annotation "
    f"{OPTIONAL_ANNOTATION}.\n"
)
DISCOVERY = re.compile(r"^/(?:api(?:/[^/]+)?|apis(?:/[^/]+){0,2}|version)/?$")
"""Non-resource URLs the operator reads (Kopf's API discovery: ``/api``, ``/api/v1``, ``/apis``,
``/apis/GROUP``, ``/apis/GROUP/VERSION``), granted by the built-in ``system:discovery`` ClusterRole."""


@dataclass(frozen=True)
class Permission:
    """Verbs on one resource (``"pods/log"`` for a subresource) of one API group (``""``: core)."""

    api_group: str
    resource: str
    verbs: tuple[str, ...]
    optional_reason: str | None = None
    used_by: str = ""

    @property
    def optional(self) -> bool:
        return self.optional_reason is not None

    def allows(self, api_group: str, resource: str, verb: str) -> bool:
        return self.api_group == api_group and self.resource == resource and verb in self.verbs

    def describe(self) -> str:
        return f"{self.resource}.{self.api_group or 'core'} [{', '.join(self.verbs)}]"

    def rule(self) -> dict[str, list[str]]:
        return {"apiGroups": [self.api_group], "resources": [self.resource], "verbs": list(self.verbs)}


PERMISSIONS: tuple[Permission, ...] = (
    Permission(
        API_GROUP,
        PLURAL,
        ("get", "list", "watch", "patch"),
        used_by="Kopf's watch (list, watch); the reconciler's fresh read (get); Kopf's finalizer and annotations",
    ),
    Permission(API_GROUP, f"{PLURAL}/status", ("patch",), used_by="status writes"),
    Permission(
        API_GROUP,
        f"{PLURAL}/finalizers",
        ("update",),
        used_by=(
            "no request: the ownerReferences of Jobs and Services set blockOwnerDeletion, which the "
            "OwnerReferencesPermissionEnforcement admission plugin (OpenShift) allows only with this"
        ),
    ),
    Permission(
        "batch",
        "jobs",
        ("create", "get", "list", "watch", "patch", "delete"),
        used_by=(
            "create (get after a 409; also the cleanup Job), list per experiment, Kopf's Job watch, "
            "suspend/resume (patch), retry and stopping stages before a cleanup (delete)"
        ),
    ),
    Permission("", "pods", ("list",), used_by="observing a stage's pods (attempts, reasons, termination messages)"),
    Permission("", "pods/log", ("get",), used_by="the log tail of a failed stage"),
    Permission("", "services", ("create", "get"), used_by="headless Services of multi-node stages (get after a 409)"),
    Permission("", "events", ("create",), used_by="Kopf posts core v1 Events"),
    Permission(
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        ("list", "watch"),
        optional_reason="Kopf's resource scanning; without it Kopf warns and sees CRDs only at start-up",
        used_by="Kopf",
    ),
    Permission(
        "",
        "namespaces",
        ("list", "watch"),
        optional_reason="only with --namespace; without it Kopf warns and assumes the named namespaces exist",
        used_by="Kopf",
    ),
    Permission(
        "kopf.dev",
        "kopfpeerings",
        ("list", "watch", "patch"),
        optional_reason="only with --peering and --namespace",
        used_by="Kopf peering",
    ),
    Permission(
        "kopf.dev",
        "clusterkopfpeerings",
        ("list", "watch", "patch"),
        optional_reason="only with --peering and --all-namespaces",
        used_by="Kopf peering",
    ),
)


def covering(
    api_group: str, resource: str, verb: str, permissions: Sequence[Permission] = PERMISSIONS
) -> Permission | None:
    """The permission that allows ``verb`` on ``resource`` (``"pods/log"`` for a subresource), if any."""
    return next((p for p in permissions if p.allows(api_group, resource, verb)), None)


def is_discovery(path: str) -> bool:
    """A non-resource URL of API discovery (allowed to every authenticated client by ``system:discovery``)."""
    return DISCOVERY.match(path) is not None


def granted(optional: Collection[str] = (), permissions: Sequence[Permission] = PERMISSIONS) -> tuple[Permission, ...]:
    """The required permissions plus the optional ones named (by resource) in ``optional``."""
    known = {p.resource for p in permissions if p.optional}
    unknown = sorted(set(optional) - known)
    if unknown:
        raise ValueError(f"optional: not an optional permission (got {unknown}); choose from {sorted(known)}")
    return tuple(p for p in permissions if not p.optional or p.resource in optional)


def cluster_role(name: str = NAME, optional: Collection[str] = INSTALL_OPTIONAL) -> dict[str, Any]:
    """The ClusterRole: every required permission, the optional ones named in ``optional``, nothing else."""
    grant = granted(optional)
    marks = [
        f"{'granted' if p in grant else 'not granted'}: {p.describe()}: {p.optional_reason}"
        for p in PERMISSIONS
        if p.optional
    ]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": labels(),
            "annotations": {OPTIONAL_ANNOTATION: "\n".join(marks) + "\n"},
        },
        "rules": [p.rule() for p in grant],
    }


def labels(component: str = "operator") -> dict[str, str]:
    return {
        "app.kubernetes.io/name": NAME,
        "app.kubernetes.io/part-of": "ensemw2s",
        "app.kubernetes.io/component": component,
    }


def user_roles() -> list[dict[str, Any]]:
    """The aggregated user ClusterRoles: ``ensemw2s-edit`` (into ``admin`` and ``edit``), ``ensemw2s-view``
    (into ``view``). They grant nothing by themselves; a namespace's RoleBinding to ``edit`` (or ``admin``,
    ``view``) does."""

    def role(name: str, aggregate_to: Sequence[str], rules: list[dict[str, list[str]]]) -> dict[str, Any]:
        metadata_labels = {**labels("user-roles"), **{f"{AGGREGATE}{to}": "true" for to in aggregate_to}}
        return {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name, "labels": metadata_labels},
            "rules": rules,
        }

    read = ["get", "list", "watch"]
    edit = [{"apiGroups": [API_GROUP], "resources": [PLURAL], "verbs": ["create", "update", "patch", "delete", *read]}]
    view = [{"apiGroups": [API_GROUP], "resources": [PLURAL, f"{PLURAL}/status"], "verbs": read}]
    return [role(EDIT_ROLE, ("admin", "edit"), edit), role(VIEW_ROLE, ("view",), view)]


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks (``|``), so the annotation reads as it prints."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str)


def chart_permissions() -> dict[str, Any]:
    """What the chart grants, by where it applies (``CHART_PERMISSIONS_FILE``).

    - ``namespaced``: the required rules, granted in each watched namespace (a Role each) or cluster-wide;
    - ``clusterReads``: the cluster-scoped reads each install adds: ``allNamespaces``
      (:data:`INSTALL_OPTIONAL`, in the operator's ClusterRole) and ``watchedNamespaces``
      (:data:`NAMESPACED_OPTIONAL`, the only ClusterRole of an install that watches named namespaces);
    - ``peering``: the rule ``--peering`` adds in each scope;
    - ``userRoles``: the aggregated roles' rules.

    Which optional permissions exist and why: :data:`PERMISSIONS` and docs/operator.md ("RBAC").
    """
    by_resource = {p.resource: p for p in PERMISSIONS}
    required = [p.rule() for p in PERMISSIONS if not p.optional]
    return {
        "namespaced": required,
        "clusterReads": {
            "allNamespaces": [by_resource[name].rule() for name in INSTALL_OPTIONAL],
            "watchedNamespaces": [by_resource[name].rule() for name in NAMESPACED_OPTIONAL],
        },
        "peering": {scope: by_resource[resource].rule() for scope, resource in PEERING.items()},
        "userRoles": {role["metadata"]["name"].removeprefix("ensemw2s-"): role["rules"] for role in user_roles()},
    }


def render_chart_permissions() -> str:
    """``charts/ensemw2s/files/operator-permissions.yaml``."""
    header = "\n".join(HEADER.splitlines()[:2]) + "\n"
    return header + yaml.dump(chart_permissions(), Dumper=_Dumper, sort_keys=False, width=1000)


def main(argv: Sequence[str] | None = None) -> None:
    """Write ``charts/ensemw2s/files/operator-permissions.yaml`` (or ``--output``; ``-`` for stdout); then
    render ``manifests/install`` from the chart: ``python tools/render_manifests.py``."""
    description = "Generate the chart's RBAC rules from the operator's permissions and the aggregated user roles."
    write_generated(render_chart_permissions, CHART_PERMISSIONS_FILE, description, argv)


__all__ = [
    "CHART_PERMISSIONS_FILE",
    "DISCOVERY",
    "EDIT_ROLE",
    "NAME",
    "NAMESPACED_OPTIONAL",
    "PERMISSIONS",
    "SYSTEM_NAMESPACE",
    "VIEW_ROLE",
    "Permission",
    "chart_permissions",
    "cluster_role",
    "covering",
    "granted",
    "is_discovery",
    "render_chart_permissions",
    "user_roles",
]
