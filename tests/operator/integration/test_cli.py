"""``python -m ensemw2s.operator``: flags, exit codes, Kopf settings, health endpoints, a clean stop."""

from __future__ import annotations

import socket
import subprocess
import sys

import aiohttp
import pytest
from ensemw2s.operator.handlers import forced_login
from ensemw2s.operator.settings import FINALIZER, OperatorConfig, kopf_settings, parse_args
from kubernetes import client


def run_cli(*args: str, tmp_path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "ensemw2s.operator", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_flags_and_environment():
    config = parse_args(["-n", "a", "-n", "b", "--reconcile-interval", "5", "--metrics-port", "0"], environ={})
    from_env = parse_args([], environ={"W2S_NAMESPACES": "*", "W2S_RECONCILE_INTERVAL": "30", "KUBECONFIG": "/k"})
    flags_win = parse_args(["--namespace", "x"], environ={"W2S_NAMESPACES": "*"})

    assert (config.namespaces, config.all_namespaces, config.reconcile_interval, config.metrics_port) == (
        ("a", "b"),
        False,
        5.0,
        0,
    )
    assert config.standalone and config.liveness == "http://0.0.0.0:8081/healthz"
    # $KUBECONFIG is no flag default: Kopf's login_via_client and the API helper both read it themselves.
    assert (from_env.all_namespaces, from_env.reconcile_interval, from_env.kubeconfig) == (True, 30.0, None)
    assert flags_win.namespaces == ("x",) and not flags_win.all_namespaces
    assert parse_args(["-A", "--liveness", ""], environ={}).liveness is None


def test_peering_gets_a_random_priority_unless_one_is_given():
    replicas = [parse_args(["-A", "--peering", "ensemw2s"], environ={}) for _ in range(5)]
    fixed = parse_args(["-A", "--peering", "ensemw2s", "--priority", "7"], environ={})

    assert all(not r.standalone and r.peering == "ensemw2s" and r.priority >= 1 for r in replicas)
    assert len({r.priority for r in replicas}) > 1
    assert fixed.priority == 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--namespace or --all-namespaces: one is required (got neither); e.g. --namespace default"),
        (["-A", "--reconcile-interval", "0"], "--reconcile-interval: must be > 0 (got 0); e.g. 15"),
        (
            ["-A", "--reconcile-interval", "soon"],
            "--reconcile-interval: must be a number of seconds (got 'soon'); e.g. 15",
        ),
        (["-A", "--metrics-port", "70000"], "--metrics-port: must be in 0..65535 (got 70000); 0 disables"),
        (["-A", "--standalone", "--peering", "p"], "argument --peering: not allowed with argument --standalone"),
        (["-A", "-n", "x"], "argument -n/--namespace: not allowed with argument -A/--all-namespaces"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(args, environ={})

    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message)


def test_kopf_settings():
    standalone = kopf_settings(OperatorConfig(namespaces=("a",)))
    peered = kopf_settings(OperatorConfig(all_namespaces=True, peering="ensemw2s", priority=3))

    assert standalone.persistence.finalizer == FINALIZER == "ensemw2s.io/operator"
    diffbase = standalone.persistence.diffbase_storage
    assert (diffbase.prefix, diffbase.key) == ("kopf.ensemw2s.io", "last-handled-configuration")
    assert standalone.peering.standalone is True and standalone.peering.mandatory is False
    assert (peered.peering.name, peered.peering.priority, peered.peering.mandatory, peered.peering.clusterwide) == (
        "ensemw2s", 3, True, True,
    )  # fmt: skip
    assert standalone.posting.reporting_component == "ensemw2s-operator"


def test_missing_credentials_exit_1_with_one_error_line(tmp_path):
    result = run_cli(
        "--namespace", "x", "--kubeconfig", str(tmp_path / "none"), "--metrics-port", "0", tmp_path=tmp_path
    )

    assert result.returncode == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(f"Error: kubeconfig {tmp_path / 'none'}: cannot be loaded (got ")
    )
    assert "Traceback" not in result.stderr


def test_a_taken_metrics_port_exits_1_with_one_error_line(tmp_path, kubeconfig):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "-n", "x", "--kubeconfig", str(kubeconfig), "--metrics-host", "127.0.0.1", "--metrics-port", str(port),
            tmp_path=tmp_path,
        )  # fmt: skip

    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"Error: --metrics-port {port}: cannot listen on 127.0.0.1 (got ")
    assert "address already in use" in line and line.endswith("; choose a free port, or 0 to disable metrics")


def test_help_and_usage_exit_codes(tmp_path):
    assert run_cli("--help", tmp_path=tmp_path).returncode == 0
    usage = run_cli(tmp_path=tmp_path)
    assert usage.returncode == 2 and "one is required" in usage.stderr


async def test_health_endpoints_and_a_clean_stop_on_sigterm(cluster, operator):
    process = await operator("--namespace", "default")

    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{process.liveness_port}/healthz") as response:
            assert response.status == 200
        async with session.get(f"{process.metrics_url}/readyz") as response:
            assert response.status == 200 and await response.text() == "ok\n"
        async with session.get(f"{process.metrics_url}/metrics") as response:
            assert response.headers["Content-Type"].startswith("text/plain; version=")

    assert await process.stop() == 0
    assert "Traceback" not in process.log()


async def test_an_explicit_kubeconfig_logs_kopf_in_with_it(cluster, operator, experiment_spec, wait_for):
    """``--kubeconfig`` (no $KUBECONFIG): Kopf watches with the credentials the API helper loaded."""
    await operator("--namespace", "default", kubeconfig_flag=True)

    await cluster.create_experiment("default", "flagged", experiment_spec())

    jobs = await wait_for(lambda: cluster.jobs("default", "flagged"), what="the first Job")
    assert [j["metadata"]["name"] for j in jobs] == ["flagged-prepare-s1"]


@pytest.mark.parametrize(
    ("key", "header", "scheme", "token"),
    [("BearerToken", "Bearer abc", "Bearer", "abc"), ("authorization", "abc", None, "abc"), (None, None, None, None)],
)
def test_forced_login_reads_the_client_configuration(key, header, scheme, token):
    configuration = client.Configuration(host="https://k8s.example:6443")
    if key is not None:
        configuration.api_key[key] = header
    configuration.verify_ssl = False

    info = forced_login(configuration)

    assert (info.server, info.scheme, info.token, info.insecure) == ("https://k8s.example:6443", scheme, token, True)
