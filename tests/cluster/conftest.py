"""Fixtures of the cluster suite: a real Kubernetes v1.20 control plane, the real operator, a kubelet.

- ``control_plane`` (session) starts ``../shared/k8s-local``'s etcd, kube-apiserver, kube-controller-manager
  (the real Job controller and garbage collector) and fake-node on a fresh etcd data folder, and stops them
  at the end. The binaries are built once per machine (``bash ../shared/k8s-local/setup.sh``, ~11 minutes);
  without them every test of this suite fails with that command, never a skip: the suite only runs when
  asked for (``pytest -m cluster``; the default run deselects it, see pyproject.toml).
- ``installed`` applies the CRD, the operator's namespace and its RBAC exactly as shipped
  (``manifests/crd``, ``manifests/install``) with kubectl.
- ``operator`` runs ``python -m ensemw2s.operator -A`` as a subprocess out of cluster (cwd = a tmp dir, so
  the repository's ``operator/`` folder never shadows the stdlib), logged in as the ``ensemw2s-operator``
  ServiceAccount through a kubeconfig built from its token Secret: every call the operator makes goes
  through the real RBAC authorizer with the shipped ClusterRole.
- ``stage_outcomes`` (session) runs the cluster suite's tiny experiment locally once with the real trainer:
  each stage's real termination message (its ``StageSummary``) is what the ``kubelet`` hands back.
- ``kubelet`` plays the kubelet's part the control plane has none of: it watches an experiment's pods and
  ends each one through fake-node's annotations (a termination message, or an exit code and reason).

Every wait polls the API server until a condition holds, with a deadline that names what it waited for.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from ensemw2s.operator.status_model import ExperimentStatus
from ensemw2s.spec import API_GROUP, API_VERSION, PLURAL, parse_manifest
from kubernetes import client, config

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
K8S_HOME = Path(os.environ.get("K8S_HOME") or Path(os.environ.get("TMPDIR") or "/tmp") / "k8s")
SETUP = "bash ../shared/k8s-local/setup.sh"
"""How the control plane is built, from the repository root (README of ../shared/k8s-local)."""
BINARIES = ("kube-apiserver", "kube-controller-manager", "fake-node")
API_SERVER = "https://127.0.0.1:26443"
FAKE = "fake-node.k8s-test/"
"""Annotations fake-node reads on a pod: termination-message, exit-code, reason, run-seconds."""
OPERATOR_NAMESPACE = "ensemw2s-system"
OPERATOR_ACCOUNT = "ensemw2s-operator"
EXPERIMENT = "tiny"
FINAL_PHASES = frozenset({"Succeeded", "Failed", "Invalid"})

SPEC: dict[str, Any] = {
    "seeds": [1],
    "dataset": {
        "name": "synthetic-sentiment",
        "maxItems": 800,
        "sizes": {"easy": 160, "val": 60, "hardTrain": 240, "hardTest": 120},
    },
    "weak": {
        "model": "tiny-weak",
        "rounds": 2,
        "training": {"epochs": 6, "batchSize": 16, "learningRate": 0.001, "maxLength": 24},
    },
    "strong": {
        "model": "tiny-strong",
        "training": {"epochs": 6, "batchSize": 16, "learningRate": 0.003, "maxLength": 24},
    },
    "baselines": {"w2s": False, "ceiling": True},
    "runtime": {"threads": 1},
    "storage": {"pvc": {"claimName": "ensemw2s-artifacts"}},
    "runPolicy": {"backoffLimit": 0},
}
"""The suite's experiment: 7 stages (prepare, weak r0 and r1, aggregate, the EnsemW2S student, the ceiling,
the report), whose ceiling learns enough for a PGR (-0.38). ``backoffLimit: 0``: v1.20 has no podFailurePolicy, so one failed pod must fail its Job."""


def experiment_manifest(namespace: str, name: str = EXPERIMENT, **run_policy: Any) -> dict[str, Any]:
    """The suite's experiment in ``namespace``; ``run_policy`` adds RuntimeOnly fields (same stage outputs)."""
    spec = json.loads(json.dumps(SPEC))
    spec["runPolicy"].update(run_policy)
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": "EnsemW2SExperiment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def wait_until(
    check: Callable[[], T | None],
    timeout: float = 30.0,
    what: str | Callable[[], str] = "condition",
    interval: float = 0.2,
) -> T:
    """Poll ``check`` until it returns a truthy value (returned), or fail after ``timeout`` seconds naming
    ``what`` (a callable is asked then, so it can say how far things got)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
        except (AssertionError, KeyError, IndexError) as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            described = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {described} (last: {last!r})")
        time.sleep(interval)


def free_port() -> int:
    """A free port below the kernel's ephemeral range (one handed out by bind(0) can be taken by any
    outgoing connection before the operator binds it)."""
    low, _ = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


# -- the control plane -------------------------------------------------------------------------------


def kubectl_binary() -> str:
    found = shutil.which("kubectl", path=f"{os.environ.get('PATH', '')}:{K8S_HOME / 'bin'}")
    if found is None:
        pytest.fail(f"kubectl: not found on PATH nor in {K8S_HOME}/bin; build it: {SETUP}", pytrace=False)
    return found


@dataclass(frozen=True)
class ControlPlane:
    """The running control plane: its admin kubeconfig (system:masters) and a kubectl for any kubeconfig."""

    home: Path
    kubeconfig: Path
    kubectl_path: str
    workdir: Path
    repo: Path = REPO

    def kubectl(
        self, *args: str, kubeconfig: Path | None = None, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        argv = [self.kubectl_path, "--kubeconfig", str(kubeconfig or self.kubeconfig), *args]
        result = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv[3:])}: exit {result.returncode}\n{result.stdout}{result.stderr}")
        return result

    def apply(self, manifest: Mapping[str, Any], *args: str, kubeconfig: Path | None = None) -> str:
        """``kubectl apply -f -`` of one object; returns kubectl's output."""
        return self.kubectl(
            "apply", "-f", "-", *args, kubeconfig=kubeconfig, stdin=yaml.safe_dump(dict(manifest))
        ).stdout

    def ready(self) -> bool:
        return self.kubectl("get", "--raw", "/readyz", check=False).returncode == 0

    def logs(self) -> str:
        parts = []
        for log in sorted((self.home / "logs").glob("*.log")):
            parts.append(f"--- {log} ---\n{log.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)


def _missing_binaries() -> list[str]:
    return [name for name in BINARIES if not os.access(K8S_HOME / "bin" / name, os.X_OK)]


def _stop(home: Path) -> None:
    subprocess.run(
        ["bash", str(home / "stop.sh")], env={**os.environ, "K8S_HOME": str(home)}, capture_output=True, timeout=60
    )


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    missing = _missing_binaries()
    if missing or not (K8S_HOME / "start.sh").exists():
        pytest.fail(
            f"{K8S_HOME}/bin: the control plane is not built (missing {', '.join(missing) or 'start.sh'}); "
            f"build it once from the repository root: {SETUP} (about 11 minutes)",
            pytrace=False,
        )
    workdir = tmp_path_factory.mktemp("control-plane")
    plane = ControlPlane(K8S_HOME, K8S_HOME / "kubeconfig", kubectl_binary(), workdir)
    if plane.ready():
        pytest.fail(
            f"{API_SERVER}: a control plane is already running (got /readyz ok); the suite starts its own on "
            f"a fresh etcd: stop that one first: bash {K8S_HOME}/stop.sh",
            pytrace=False,
        )
    env = {
        **os.environ,
        "K8S_HOME": str(K8S_HOME),
        "ETCD_DATA": str(workdir / "etcd"),
        "FAKE_NODES": "1",
        "FAKE_POD_SECONDS": "600",  # nothing ends on its own: the kubelet fixture ends every pod
    }
    started = subprocess.run(["bash", str(K8S_HOME / "start.sh")], env=env, capture_output=True, text=True, timeout=120)
    try:
        if not plane.ready():
            pytest.fail(f"start.sh: the API server is not ready\n{started.stdout}{started.stderr}\n{plane.logs()}")
        core = client.CoreV1Api(config.new_client_from_config(config_file=str(plane.kubeconfig)))
        wait_until(
            lambda: any(
                c.type == "Ready" and c.status == "True"
                for node in core.list_node().items
                for c in (node.status.conditions or [])
            ),
            timeout=60,
            what="fake-node's node to be Ready",
        )
        yield plane
    finally:
        _stop(K8S_HOME)


@pytest.fixture(scope="session")
def admin(control_plane: ControlPlane) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(control_plane.kubeconfig))


@pytest.fixture(scope="session")
def installed(control_plane: ControlPlane) -> ControlPlane:
    """The CRD, the operator's namespace and RBAC, applied as shipped."""
    control_plane.kubectl(
        "apply",
        "-f", str(REPO / "manifests/crd/ensemw2sexperiments.ensemw2s.io.yaml"),
        "-f", str(REPO / "manifests/install/namespace.yaml"),
        "-f", str(REPO / "manifests/install/rbac.yaml"),
    )  # fmt: skip
    control_plane.kubectl("wait", "--for", "condition=established", "--timeout=30s", f"crd/{PLURAL}.{API_GROUP}")
    return control_plane


def service_account_kubeconfig(
    plane: ControlPlane, admin: client.ApiClient, namespace: str, account: str, path: Path
) -> Path:
    """A kubeconfig that authenticates as ``namespace/account`` with its token Secret (v1.20 creates it)."""
    core = client.CoreV1Api(admin)

    def token_secret() -> client.V1Secret | None:
        secrets = core.read_namespaced_service_account(account, namespace).secrets or []
        if not secrets:
            return None
        secret = core.read_namespaced_secret(secrets[0].name, namespace)
        return secret if (secret.data or {}).get("token") else None

    secret = wait_until(token_secret, timeout=30, what=f"the token Secret of {namespace}/{account}")
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "local", "cluster": {"server": API_SERVER, "certificate-authority-data": secret.data["ca.crt"]}}
        ],
        "users": [{"name": account, "user": {"token": base64.b64decode(secret.data["token"]).decode()}}],
        "contexts": [{"name": account, "context": {"cluster": "local", "user": account, "namespace": namespace}}],
        "current-context": account,
    }
    path.write_text(yaml.safe_dump(kubeconfig))
    path.chmod(0o600)
    return path


@pytest.fixture
def namespace(request: pytest.FixtureRequest, admin: client.ApiClient, installed: ControlPlane) -> str:
    """A namespace of its own for each test (the cluster lives for the whole session)."""
    base = request.node.name.removeprefix("test_").replace("_", "-").replace("[", "-").replace("]", "")
    name = f"{base[:40].strip('-')}-{random.randrange(16**4):04x}".lower()
    client.CoreV1Api(admin).create_namespace({"metadata": {"name": name}})
    return name


# -- the operator ----------------------------------------------------------------------------------


@dataclass
class OperatorProcess:
    """``python -m ensemw2s.operator -A`` with the operator's own ServiceAccount."""

    kubeconfig: Path
    workdir: Path
    metrics_port: int = field(default_factory=free_port)
    liveness_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    args: tuple[str, ...] = ("-A", "--standalone")
    """Scope and peering flags (a chart's Deployment has its own)."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """Extra environment (a chart's Deployment sets ``W2S_STAGE_DEFAULTS``)."""

    @property
    def log_path(self) -> Path:
        return self.workdir / "operator.log"

    def start(self, timeout: float = 60.0) -> OperatorProcess:
        argv = [
            sys.executable, "-m", "ensemw2s.operator", *self.args,
            "--kubeconfig", str(self.kubeconfig),
            "--metrics-host", "127.0.0.1", "--metrics-port", str(self.metrics_port),
            "--liveness", f"http://127.0.0.1:{self.liveness_port}/healthz",
            "--reconcile-interval", "1",
        ]  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.environment}
        env.pop("KUBECONFIG", None)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(argv, cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._ready, timeout=timeout, interval=0.2, what="the operator's /readyz")
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"operator exited with {self.process.returncode}:\n{self.log()[-5000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture(scope="session")
def operator(
    installed: ControlPlane, admin: client.ApiClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    workdir = tmp_path_factory.mktemp("operator")
    kubeconfig = service_account_kubeconfig(
        installed, admin, OPERATOR_NAMESPACE, OPERATOR_ACCOUNT, workdir / "operator.kubeconfig"
    )
    process = OperatorProcess(kubeconfig, workdir)
    try:
        yield process.start()
    finally:
        process.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed cluster test shows the operator's log and the control plane's logs."""
    report = yield
    if report.when == "call" and report.failed and "operator" in getattr(item, "fixturenames", ()):
        process = item.funcargs.get("operator")  # type: ignore[attr-defined]
        if isinstance(process, OperatorProcess):
            report.sections.append(("operator log", process.log()[-15000:]))
    return report


# -- real stage outcomes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StageOutcomes:
    """What each stage of the suite's experiment really reports: its termination message, and the report."""

    messages: dict[str, str]
    report_markdown: str

    def message(self, stage: str) -> str:
        return self.messages[stage]


@pytest.fixture(scope="session")
def stage_outcomes(tmp_path_factory: pytest.TempPathFactory) -> StageOutcomes:
    """The suite's experiment run once here with the trainer (about 15 s on 2 cores)."""
    from ensemw2s.trainer.progress import SilentProgress
    from ensemw2s.trainer.runner import run_experiment

    store = tmp_path_factory.mktemp("store")
    manifest = parse_manifest(experiment_manifest("local"))
    run = run_experiment(manifest, str(store), SilentProgress())
    report = next(store.rglob("report.md"))
    return StageOutcomes(
        {name: summary.termination_message() for name, summary in run.summaries.items()}, report.read_text()
    )


# -- the kubelet -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """How a stage's pod fails: an exit code, the container's terminated reason, its termination message."""

    exit_code: int
    reason: str | None = None
    message: str | None = None

    def annotations(self) -> dict[str, str]:
        out = {FAKE + "exit-code": str(self.exit_code), FAKE + "run-seconds": "0"}
        if self.reason is not None:
            out[FAKE + "reason"] = self.reason
        if self.message is not None:
            out[FAKE + "termination-message"] = self.message
        return out


class Kubelet:
    """Ends an experiment's stage pods through fake-node's annotations, as a kubelet would report them."""

    def __init__(self, admin: client.ApiClient, outcomes: StageOutcomes) -> None:
        self.core = client.CoreV1Api(admin)
        self.custom = client.CustomObjectsApi(admin)
        self.outcomes = outcomes

    def experiment(self, namespace: str, name: str = EXPERIMENT) -> dict[str, Any]:
        return dict(self.custom.get_namespaced_custom_object(API_GROUP, API_VERSION, namespace, PLURAL, name))

    def status(self, namespace: str, name: str = EXPERIMENT) -> dict[str, Any]:
        return dict(self.experiment(namespace, name).get("status") or {})

    def summary(self, namespace: str, name: str = EXPERIMENT) -> dict[str, Any]:
        """The status fields that say where an experiment is, for failure messages."""
        status = self.status(namespace, name)
        keys = ("phase", "message", "stage", "failedStages", "retryingStages", "redoingStages")
        return {key: status.get(key) for key in keys}

    def pods(self, namespace: str, name: str = EXPERIMENT) -> list[client.V1Pod]:
        return list(self.core.list_namespaced_pod(namespace, label_selector=f"ensemw2s.io/experiment={name}").items)

    @staticmethod
    def stage(pod: client.V1Pod) -> str:
        return str((pod.metadata.labels or {}).get("ensemw2s.io/stage"))

    @staticmethod
    def waiting(pod: client.V1Pod) -> bool:
        """A pod nobody has ended yet."""
        annotations = pod.metadata.annotations or {}
        return (
            pod.metadata.deletion_timestamp is None
            and pod.status.phase in ("Pending", "Running")
            and not any(key.startswith(FAKE) for key in annotations)
        )

    def end(self, pod: client.V1Pod, annotations: Mapping[str, str]) -> None:
        self.core.patch_namespaced_pod(
            pod.metadata.name, pod.metadata.namespace, {"metadata": {"annotations": dict(annotations)}}
        )

    def succeed(self, pod: client.V1Pod, message: str | None = None) -> None:
        """Exit 0 with ``message``, by default the stage's real summary."""
        text = self.outcomes.message(self.stage(pod)) if message is None else message
        self.end(pod, {FAKE + "termination-message": text})

    def fail(self, pod: client.V1Pod, failure: Failure) -> None:
        self.end(pod, failure.annotations())

    def drive(
        self,
        namespace: str,
        name: str = EXPERIMENT,
        *,
        until: Callable[[dict[str, Any]], bool] | None = None,
        fail: Mapping[str, Failure] | None = None,
        timeout: float = 60.0,
    ) -> list[str]:
        """End every stage pod as it appears (succeed, or ``fail[stage]``) until ``until(status)`` holds
        (default: a final phase for the current generation). Returns the stages in the order they ended."""
        done: list[str] = []

        def finished() -> bool:
            status = self.status(namespace, name)
            if until is not None:
                return until(status)
            generation = self.experiment(namespace, name)["metadata"]["generation"]
            return status.get("phase") in FINAL_PHASES and status.get("observedGeneration") == generation

        def step() -> bool:
            if finished():
                return True
            for pod in self.pods(namespace, name):
                if self.waiting(pod):
                    stage = self.stage(pod)
                    if fail and stage in fail:
                        self.fail(pod, fail[stage])
                    else:
                        self.succeed(pod)
                    done.append(stage)
            return False

        wait_until(
            step,
            timeout=timeout,
            what=lambda: f"{namespace}/{name} (ended so far: {done}; status: {self.summary(namespace, name)})",
        )
        return done


@pytest.fixture
def kubelet(admin: client.ApiClient, stage_outcomes: StageOutcomes) -> Kubelet:
    return Kubelet(admin, stage_outcomes)


def job_uids(batch: client.BatchV1Api, namespace: str, name: str = EXPERIMENT) -> dict[str, str]:
    """Stage -> uid of its Job, for the Jobs not being deleted."""
    jobs = batch.list_namespaced_job(namespace, label_selector=f"ensemw2s.io/experiment={name}").items
    return {
        str(job.metadata.labels["ensemw2s.io/stage"]): str(job.metadata.uid)
        for job in jobs
        if job.metadata.deletion_timestamp is None and "ensemw2s.io/stage" in (job.metadata.labels or {})
    }


@dataclass(repr=False)
class Cluster:
    """One test's view: its namespace, the suite's experiment there, kubectl, the kubelet, the operator."""

    plane: ControlPlane
    operator: OperatorProcess
    kubelet: Kubelet
    namespace: str
    admin: client.ApiClient
    outcomes: StageOutcomes
    name: str = EXPERIMENT

    @property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.admin)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.admin)

    def __repr__(self) -> str:
        return f"Cluster({self.namespace}/{self.name})"

    def manifest(self, **run_policy: Any) -> dict[str, Any]:
        return experiment_manifest(self.namespace, self.name, **run_policy)

    def submit(self, **run_policy: Any) -> str:
        """``kubectl apply`` of the suite's experiment; kubectl's output."""
        return self.plane.apply(self.manifest(**run_policy))

    def kubectl(
        self, *args: str, kubeconfig: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """kubectl in this test's namespace."""
        return self.plane.kubectl(*args, "-n", self.namespace, kubeconfig=kubeconfig, check=check)

    def annotate(self, annotation: str) -> None:
        self.kubectl("annotate", "--overwrite", "w2sx", self.name, annotation)

    def body(self) -> dict[str, Any]:
        return self.kubelet.experiment(self.namespace, self.name)

    def status(self) -> ExperimentStatus:
        return ExperimentStatus.model_validate(self.kubelet.status(self.namespace, self.name))

    def drive(self, **kwargs: Any) -> list[str]:
        return self.kubelet.drive(self.namespace, self.name, **kwargs)

    def job_uids(self) -> dict[str, str]:
        return job_uids(self.batch, self.namespace, self.name)

    def manifest_file(self, **run_policy: Any) -> Path:
        path = self.plane.workdir / f"{self.namespace}.yaml"
        path.write_text(yaml.safe_dump(self.manifest(**run_policy)))
        return path

    def w2sctl_argv(self, *args: str, kubeconfig: Path | None = None) -> list[str]:
        """The installed ``w2sctl`` with this test's namespace and a kubeconfig (the admin's by default)."""
        w2sctl = Path(sys.executable).parent / "w2sctl"
        return [str(w2sctl), "--kubeconfig", str(kubeconfig or self.plane.kubeconfig), "-n", self.namespace, *args]

    def w2sctl(
        self, *args: str, kubeconfig: Path | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run ``w2sctl`` (cwd: a tmp dir, never the repository) and return its exit code and output.

        With ``$W2S_TRANSCRIPT`` set, each command and what it printed is appended there (the README's
        transcript is taken this way)."""
        done = subprocess.run(
            self.w2sctl_argv(*args, kubeconfig=kubeconfig),
            cwd=self.plane.workdir,
            env=_w2sctl_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        transcript = os.environ.get("W2S_TRANSCRIPT")
        if transcript:
            with open(transcript, "a", encoding="utf-8") as out:
                out.write(f"$ w2sctl {' '.join(args)}\n{done.stdout}{done.stderr}")
        return done

    def w2sctl_background(self, *args: str) -> subprocess.Popen[str]:
        """``w2sctl`` started and left running (``submit --watch``): the test ends its stages meanwhile."""
        return subprocess.Popen(
            self.w2sctl_argv(*args),
            cwd=self.plane.workdir,
            env=_w2sctl_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def _w2sctl_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("KUBECONFIG", "W2SCTL_DEBUG")}
    env["COLUMNS"] = "200"  # one table row per line whatever the terminal
    return env


@pytest.fixture
def cluster(
    control_plane: ControlPlane,
    operator: OperatorProcess,
    kubelet: Kubelet,
    namespace: str,
    admin: client.ApiClient,
    stage_outcomes: StageOutcomes,
) -> Cluster:
    return Cluster(control_plane, operator, kubelet, namespace, admin, stage_outcomes)


@pytest.fixture
def failure() -> type[Failure]:
    """``failure(exit_code, reason, message)``: how a stage pod fails (for ``cluster.drive(fail=...)``)."""
    return Failure


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., Any]:
    """``wait_until(check, timeout, what)``: poll until ``check()`` is truthy (see :func:`wait_until`)."""
    return wait_until


@pytest.fixture(name="service_account_kubeconfig")
def service_account_kubeconfig_fixture(
    control_plane: ControlPlane, admin: client.ApiClient
) -> Callable[[str, str, Path], Path]:
    """``service_account_kubeconfig(namespace, account, path)``: a kubeconfig that logs in as that account."""
    return lambda namespace, account, path: service_account_kubeconfig(control_plane, admin, namespace, account, path)


@pytest.fixture
def unused_port() -> int:
    return free_port()


VIEWER = "viewer"
"""The ServiceAccount of :func:`viewer`."""


@pytest.fixture
def viewer(cluster, control_plane, admin, tmp_path, service_account_kubeconfig):  # type: ignore[no-untyped-def]
    """A ServiceAccount (:data:`VIEWER`) that may only read experiments in the test's namespace; its kubeconfig."""
    ns = cluster.namespace
    control_plane.kubectl("create", "serviceaccount", VIEWER, "-n", ns)
    control_plane.kubectl(
        "create", "role", VIEWER, "-n", ns, "--verb=get,list,watch", "--resource=ensemw2sexperiments.ensemw2s.io"
    )
    control_plane.kubectl(
        "create", "rolebinding", VIEWER, "-n", ns, f"--role={VIEWER}", f"--serviceaccount={ns}:{VIEWER}"
    )
    return service_account_kubeconfig(ns, VIEWER, tmp_path / "viewer.kubeconfig")
