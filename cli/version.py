"""``w2sctl version``: this client, the Kubernetes server, the CRD versions served, the operator's version.

The operator's version is read from its Deployment (label ``app.kubernetes.io/version``, and the image):
listing Deployments cluster-wide needs a permission many users lack, so a 403 there (or on reading the
CRD) is shown as ``unknown`` with the reason, never as an error. An unreachable cluster is an error
after the client's own line.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

import typer

from .errors import CliError
from .output import Rows
from .state import State

VERSION_LABEL = "app.kubernetes.io/version"


def client_version() -> str:
    try:
        return metadata.version("ensemw2s")
    except metadata.PackageNotFoundError:
        return "unknown (not installed as a package)"


def version(ctx: typer.Context) -> None:
    """Print the client, server, CRD and operator versions."""
    state: State = ctx.obj
    rows = [["client", f"w2sctl {client_version()}", ""]]
    try:
        rows += _cluster_rows(state)
    except CliError:
        state.emit(_rows(rows))
        raise
    state.emit(_rows(rows))


def _rows(rows: list[list[str]]) -> Rows:
    return Rows(
        columns=["component", "version", "detail"],
        rows=rows,
        names=[row[1] for row in rows],
        raw={row[0]: {"version": row[1], "detail": row[2]} for row in rows},
    )


def _cluster_rows(state: State) -> list[list[str]]:
    from ensemw2s.operator.crd import CRD_NAME
    from ensemw2s.operator.rbac import NAME

    from .kube import connect

    with connect(state) as cluster:
        server = cluster.server_version()
        rows = [["server", f"Kubernetes {server.get('gitVersion', 'unknown')}", cluster.server]]
        try:
            crd = cluster.read_crd(CRD_NAME)
            versions = [v for v in (crd.get("spec") or {}).get("versions") or [] if v.get("served")]
            text = ", ".join(str(v.get("name")) + (" (storage)" if v.get("storage") else "") for v in versions)
            rows.append(["crd", text or "none served", CRD_NAME])
        except CliError as exc:
            if exc.http_status == 404:
                rows.append(["crd", "not installed", "kubectl apply -k manifests/crd"])
            elif exc.http_status == 403:
                served = cluster.crd_served()
                rows.append(["crd", "served" if served else "not installed", f"{CRD_NAME} not readable (forbidden)"])
            else:
                raise
        try:
            deployments = cluster.operator_deployments(f"app.kubernetes.io/name={NAME}")
        except CliError as exc:
            if exc.http_status != 403:
                raise
            rows.append(["operator", "unknown", "cannot list Deployments (forbidden)"])
            return rows
        rows += [_operator_row(d) for d in deployments] or [["operator", "not found", f"no Deployment {NAME}"]]
    return rows


def _operator_row(deployment: dict[str, Any]) -> list[str]:
    meta = deployment.get("metadata") or {}
    containers = ((((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or [{}]
    image = str(containers[0].get("image") or "")
    status = deployment.get("status") or {}
    ready = f"{status.get('readyReplicas') or 0}/{(deployment.get('spec') or {}).get('replicas', 1)} ready"
    version = (meta.get("labels") or {}).get(VERSION_LABEL) or image.rpartition(":")[2] or "unknown"
    return ["operator", str(version), f"{meta.get('namespace')}/{meta.get('name')} {image} {ready}"]


def register(app: typer.Typer) -> None:
    app.command()(version)
