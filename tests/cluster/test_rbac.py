"""On a real API server with RBAC: an account without a verb gets one readable line, not a traceback.

The operator itself runs as the ``ensemw2s-operator`` ServiceAccount of ``manifests/install/rbac.yaml``
(see conftest.py), so every other test of this suite also checks that the shipped ClusterRole suffices.
"""

from __future__ import annotations

import pytest
import yaml
from ensemw2s.operator.errors import TemporaryError
from ensemw2s.operator.k8s import ClusterApi, load_client_configuration

pytestmark = pytest.mark.cluster

VIEWER = "viewer"  # the ServiceAccount of the conftest's viewer fixture


def test_the_restricted_account_may_read_but_not_create(cluster, viewer):
    listed = cluster.kubectl("get", "w2sx", kubeconfig=viewer)
    assert listed.returncode == 0 and "No resources found" in listed.stderr

    refused = cluster.plane.kubectl(
        "apply", "-f", "-", kubeconfig=viewer, stdin=yaml.safe_dump(cluster.manifest()), check=False
    )

    assert refused.returncode == 1
    assert f'User "system:serviceaccount:{cluster.namespace}:{VIEWER}" cannot create resource' in refused.stderr


async def test_the_operators_api_helper_turns_a_403_into_one_readable_line(cluster, viewer):
    api = ClusterApi(load_client_configuration(str(viewer)), workers=1)
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x", "namespace": cluster.namespace}}
    try:
        with pytest.raises(TemporaryError) as refused:
            await api.create_or_get(job)
    finally:
        api.close()

    message = str(refused.value)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(f"create Job {cluster.namespace}/x: forbidden (got HTTP 403 Forbidden: ")
    assert f'User "system:serviceaccount:{cluster.namespace}:{VIEWER}" cannot create resource "jobs"' in message
    assert message.endswith("grant the operator's service account this verb (docs/operator.md, RBAC)")
