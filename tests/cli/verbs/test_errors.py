"""One readable ``Error:`` line, no traceback: no cluster, no CRD, RBAC, not found; the operator-down warning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import kmock
import pytest

from .conftest import EXPERIMENTS

NS = "default"


def no_traceback(result) -> None:
    assert "Traceback" not in result.err and len(result.error_lines) == 1, result.err


async def test_no_cluster_reachable(w2sctl, tmp_path, unused_port):
    dead = tmp_path / "dead.kubeconfig"
    dead.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\n"
        f"clusters: [{{name: dead, cluster: {{server: 'http://127.0.0.1:{unused_port}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: dead, context: {cluster: dead, user: u}}]\n"
    )

    result = await w2sctl("list", "--kubeconfig", str(dead))

    assert result.code == 1
    no_traceback(result)
    assert result.error_lines[0].startswith(f"Error: cluster http://127.0.0.1:{unused_port}: not reachable (got ")
    assert result.error_lines[0].endswith("; check --kubeconfig and --context, and that the API server is up")


async def test_a_missing_kubeconfig_is_an_error_where_a_cluster_is_used(w2sctl, experiment_file, tmp_path):
    missing = tmp_path / "nonexistent"
    file = experiment_file("exp")

    listed = await w2sctl("-n", "team-a", "--kubeconfig", str(missing), "list")
    validated = await w2sctl("-n", "team-a", "--kubeconfig", str(missing), "validate", "--cluster", str(file))

    assert listed.code == 1 and listed.error_lines == [
        f"Error: --kubeconfig: file not found (got {missing}); pass an existing kubeconfig file"
    ]
    # validate is offline: the kubeconfig is not used, and it says so; -n is the namespace it checks names for.
    assert validated.code == 0
    assert validated.out == f"{file}: valid (team-a/exp)\n"
    assert "warning: --kubeconfig: not used by `w2sctl validate`, which does not contact a cluster" in validated.err


async def test_an_unknown_context_is_one_error_line(w2sctl):
    result = await w2sctl("list", "--context", "nowhere")

    assert result.code == 1
    no_traceback(result)
    assert "cannot be loaded (got " in result.error_lines[0] and "nowhere" in result.error_lines[0]


async def test_the_crd_not_installed(cluster, w2sctl):
    del cluster.resources[EXPERIMENTS]

    result = await w2sctl("list")

    assert result.code == 1
    no_traceback(result)
    assert result.error_lines[0].startswith(
        "Error: ensemw2sexperiments.ensemw2s.io: not served by the cluster http://127.0.0.1:"
    )
    assert result.error_lines[0].endswith(
        "the CRD is not installed: kubectl apply -k manifests/crd (or manifests/install for the operator too)"
    )


async def test_an_experiment_not_found(cluster, w2sctl):
    result = await w2sctl("get", "ghost", "-n", "team-a")

    assert result.code == 1
    no_traceback(result)
    assert result.error_lines[0].startswith("Error: experiment team-a/ghost: not found (got HTTP 404")
    assert result.error_lines[0].endswith("`w2sctl list -n team-a` shows the experiments there")


@pytest.mark.parametrize(
    ("argv", "action", "verb"),
    [
        (["delete", "exp"], kmock.action.DELETE, "delete"),
        (["suspend", "exp"], kmock.action.UPDATE, "patch"),
        (["list"], kmock.action.LIST, "list"),
    ],
)
async def test_a_forbidden_verb_names_the_verb_the_resource_and_the_role_to_grant(
    cluster, w2sctl, experiment_file, argv, action, verb
):
    await w2sctl("submit", str(experiment_file("exp")))
    message = f'ensemw2sexperiments.ensemw2s.io is forbidden: User "alice" cannot {verb} resource'
    (
        cluster[action, kmock.resource(EXPERIMENTS)]
        << 403
        << {"kind": "Status", "status": "Failure", "reason": "Forbidden", "message": message, "code": 403}
    )

    result = await w2sctl(*argv)

    assert result.code == 1
    no_traceback(result)
    where = 'ensemw2sexperiments.ensemw2s.io "exp"' if verb != "list" else "ensemw2sexperiments.ensemw2s.io"
    assert result.error_lines == [
        f"Error: {where} in namespace default: {verb} is forbidden (got HTTP 403 Forbidden: {message}); ask an "
        f"admin to grant it, e.g. kubectl create role w2sctl-user -n default --verb={verb} "
        "--resource=ensemw2sexperiments.ensemw2s.io and a rolebinding of it to you"
    ]


async def test_a_warning_when_the_operator_has_not_acted_on_the_spec(cluster, w2sctl, experiment_file):
    await w2sctl("submit", str(experiment_file("stale")))
    await w2sctl("submit", str(experiment_file("fresh")))
    old = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await cluster.call(
        "PATCH",
        "/apis/ensemw2s.io/v1alpha1/namespaces/default/ensemw2sexperiments/stale",
        {"metadata": {"creationTimestamp": old}},
    )

    stale = await w2sctl("status", "stale")
    fresh = await w2sctl("get", "fresh")

    assert stale.code == 0
    warnings = [line for line in stale.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: default/stale: the operator has not acted on generation 1 for 30")
    assert (
        "(got no status yet); is it running? kubectl get deploy -A -l app.kubernetes.io/name=ensemw2s-operator"
        in (warnings[0])
    )
    assert "warning" not in fresh.err


def test_offline_verbs_never_import_the_cluster_client(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom ensemw2s.cli.main import main\n"
        "for argv in (['--help'], ['list', '--help'], ['get', '--help'], ['status', '--help']):\n"
        "    assert main(argv) == 0\n"
        "print('HEAVY', sorted(m for m in ('torch', 'kubernetes', 'kopf') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout
