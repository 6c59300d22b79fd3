"""On a real API server: the shipped install manifests and every example are accepted as they are."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster

EXAMPLES = sorted(path.name for path in (Path(__file__).parents[2] / "manifests/examples").glob("*.yaml"))


def test_the_operator_deployment_is_accepted(installed):
    result = installed.kubectl(
        "apply", "--dry-run=server", "-f", str(installed.repo / "manifests/install/operator.yaml")
    )

    assert "deployment.apps/ensemw2s-operator created (server dry run)" in result.stdout
    assert "service/ensemw2s-operator-metrics created (server dry run)" in result.stdout


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_is_valid_for_the_api_server(cluster, example):
    """The CRD's schema as the API server enforces it (types, required fields, enums, defaults)."""
    result = cluster.kubectl(
        "apply", "--dry-run=server", "-f", str(cluster.plane.repo / "manifests/examples" / example)
    )

    assert "created (server dry run)" in result.stdout, result.stdout + result.stderr
