"""Render ``manifests/install`` and ``manifests/monitoring`` from the chart, the one source of the install.

``charts/ensemw2s`` is what a platform team installs with Helm; the plain manifests (``kubectl apply -k``)
are the same chart rendered with its default values (and the monitoring flags on, for
``manifests/monitoring``) by Helm as a library (the PyPI package ``helm-python-sdk``), minus the two labels
that say Helm manages them. ``tests/deploy/test_chart.py`` fails when a checked-in file differs from this
rendering. Run it after changing the chart (or the operator's permissions, which the chart reads)::

    python tools/render_manifests.py            # writes the files
    python tools/render_manifests.py --check    # exit 1 and name the stale files
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python as helm

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "ensemw2s"
RELEASE = "ensemw2s"
NAMESPACE = "ensemw2s-system"
MONITORING_VALUES: dict[str, Any] = {
    "metrics": {part: {"enabled": True} for part in ("serviceMonitor", "podMonitor", "prometheusRule", "dashboard")}
}
HELM_LABELS = re.compile(r"^ *(helm\.sh/chart: .*|app\.kubernetes\.io/managed-by: Helm)\n", re.M)
"""Labels that claim Helm manages an object: true of a release, not of ``kubectl apply``."""
HEADER = (
    "# Rendered from charts/ensemw2s by tools/render_manifests.py (release {release}, namespace {namespace}"
    "{values}); do not edit.\n# Regenerate: python tools/render_manifests.py\n"
)


@dataclass(frozen=True)
class Output:
    """One checked-in file: the chart's templates rendered into it, with these values."""

    path: Path
    templates: tuple[str, ...]
    values: Mapping[str, Any] = field(default_factory=dict)


OUTPUTS = (
    Output(Path("manifests/install/rbac.yaml"), ("serviceaccount.yaml", "rbac.yaml")),
    Output(Path("manifests/install/user-roles.yaml"), ("user-roles.yaml",)),
    Output(Path("manifests/install/operator.yaml"), ("deployment.yaml", "service.yaml")),
    Output(Path("manifests/monitoring/servicemonitor.yaml"), ("servicemonitor.yaml",), MONITORING_VALUES),
    Output(Path("manifests/monitoring/podmonitor.yaml"), ("podmonitor.yaml",), MONITORING_VALUES),
    Output(Path("manifests/monitoring/prometheusrule.yaml"), ("prometheusrule.yaml",), MONITORING_VALUES),
    Output(Path("manifests/monitoring/grafana-dashboard.yaml"), ("dashboard.yaml",), MONITORING_VALUES),
)


def render_chart(
    values: Mapping[str, Any] | None = None, *, release: str = RELEASE, namespace: str = NAMESPACE
) -> dict[str, str]:
    """The chart's templates rendered (``{"ensemw2s/templates/x.yaml": text}``), as ``helm template``."""
    chart = helm.Chart.load(CHART)
    return chart.render(dict(values or {}), name=release, namespace=namespace, is_install=True)


def documents_text(rendered: str) -> list[str]:
    """The non-empty YAML documents of one rendered template, each without its ``---``."""
    parts = re.split(r"^---[ \t]*$", rendered, flags=re.M)
    return [
        part.strip("\n")
        for part in parts
        if any(not ln.lstrip().startswith("#") and ln.strip() for ln in part.splitlines())
    ]


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": True}}`` as ``{"a.b": "true"}`` (how ``helm --set`` spells values)."""
    flat: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return flat


def render_output(output: Output) -> str:
    """The checked-in text of one file."""
    rendered = render_chart(output.values)
    settings = ", ".join(f"{key}={value}" for key, value in flatten(output.values).items())
    text = HEADER.format(release=RELEASE, namespace=NAMESPACE, values=settings and f", --set {settings}")
    for template in output.templates:
        source = f"{CHART.name}/templates/{template}"
        for document in documents_text(rendered[source]):
            text += f"---\n# Source: {source}\n{HELM_LABELS.sub('', document)}\n"
    return text


def stale(root: Path = ROOT) -> list[Path]:
    """The checked-in files that differ from their rendering."""
    return [o.path for o in OUTPUTS if not (root / o.path).is_file() or (root / o.path).read_text() != render_output(o)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is stale")
    args = parser.parse_args(argv)
    if args.check:
        names = stale()
        for path in names:
            print(f"{path}: stale; regenerate it: python tools/render_manifests.py", file=sys.stderr)
        return 1 if names else 0
    for output in OUTPUTS:
        (ROOT / output.path).write_text(render_output(output), encoding="utf-8")
        print(f"wrote {output.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
