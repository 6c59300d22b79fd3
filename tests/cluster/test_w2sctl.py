"""``w2sctl`` against a real API server and the real operator: every cluster verb, as a user types it.

Not covered here (KMock tests in tests/cli/verbs cover them): no cluster reachable, the CRD not installed
(this suite's cluster has it for the whole session), the operator not running (one operator serves the
session), ``logs -f`` of a live stage and ``--all-ranks`` (fake-node serves no logs at all).
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass

import pytest
from ensemw2s.operator.status_model import Phase
from ensemw2s.spec.results import ExperimentResults
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

pytestmark = pytest.mark.cluster

STAGES = [
    "prepare-s1", "weak-s1-r0", "weak-s1-r1", "aggregate-s1", "strong-s1-ensemble", "strong-s1-ceiling", "report",
]  # fmt: skip
TRAINER_ERROR = "Error: dataset synthetic-sentiment: hard_test has one class (got 120 items of label 1); fix the data"
VIEWER = "viewer"


@dataclass(frozen=True)
class Metrics:
    samples: list[Sample]

    def value(self, name: str, **labels: str) -> float:
        """The one sample of ``name`` whose labels include ``labels``."""
        (found,) = [s for s in self.samples if s.name == name and labels.items() <= s.labels.items()]
        return float(found.value)


def exported_metrics(cluster, wait_until, port: int) -> Metrics:
    """``w2sctl metrics serve`` for the test's namespace, scraped once it exports the experiment."""
    server = cluster.w2sctl_background("metrics", "serve", "--host", "127.0.0.1", "--port", str(port))

    def scrape() -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                text = response.read().decode()
        except OSError:
            return None
        return text if "ensemw2s_experiment_phase{" in text else None

    try:
        text = wait_until(scrape, 30, "w2sctl metrics serve to export the experiment")
    finally:
        server.terminate()
        server.communicate(timeout=15)
    return Metrics([sample for family in text_string_to_metric_families(text) for sample in family.samples])


def one_error_line(result) -> str:
    """A known failure: exit 1 and exactly one ``Error: ...`` line on stderr, no traceback."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_submit_watch_follows_to_succeeded_then_status_get_list_results_wait_metrics_version_delete(
    cluster, wait_until, unused_port
):
    watch = cluster.w2sctl_background("submit", str(cluster.manifest_file()), "--watch", "--timeout", "2m")
    try:
        wait_until(lambda: cluster.job_uids(), 30, "the first stage Job of the submitted experiment")
        cluster.drive()
        out, err = watch.communicate(timeout=60)
    finally:
        watch.kill()
    assert watch.returncode == 0, (out, err)
    assert f"ensemw2sexperiment.ensemw2s.io/{cluster.name} serverside-applied" in out
    status = cluster.status()
    assert status.phase is Phase.SUCCEEDED and status.pgr is not None
    assert "Succeeded" in err  # the live view, on stderr

    shown = cluster.w2sctl("status", cluster.name)
    assert shown.returncode == 0, shown.stderr
    first = shown.stdout.splitlines()[0]
    assert first.startswith(f"{cluster.namespace}/{cluster.name}: Succeeded") and f"PGR {status.pgr}" in first

    tree = cluster.w2sctl("get", cluster.name)
    assert tree.returncode == 0, tree.stderr
    for stage in STAGES:
        assert any(stage in line and "Succeeded" in line for line in tree.stdout.splitlines()), (stage, tree.stdout)

    listed = cluster.w2sctl("list", "-o", "name")
    assert listed.returncode == 0 and listed.stdout == f"ensemw2sexperiment.ensemw2s.io/{cluster.name}\n"

    results = cluster.w2sctl("results", cluster.name, "-o", "json")
    assert results.returncode == 0, results.stderr
    assert ExperimentResults.model_validate_json(results.stdout) == status.results

    assert cluster.w2sctl("wait", cluster.name, "--for", "succeeded", "--timeout", "10s").returncode == 0

    metrics = exported_metrics(cluster, wait_until, unused_port)
    assert metrics.value("ensemw2s_exporter_source_up", source="cluster") == 1
    assert metrics.value("ensemw2s_experiment_phase", phase="Succeeded") == 1
    assert metrics.value("ensemw2s_experiment_stages", state="succeeded") == len(STAGES)
    weak_r0 = json.loads(cluster.outcomes.message("weak-s1-r0"))["metrics"]
    assert metrics.value("ensemw2s_weak_round_error_ratio", seed="1", round="0") == pytest.approx(weak_r0["eps"])
    assert status.results is not None
    assert metrics.value("ensemw2s_report_accuracy_ratio", model="ceiling") == status.results.mean.ceiling

    version = cluster.w2sctl("version")
    assert version.returncode == 0, version.stderr
    assert "Kubernetes v1.20.2" in version.stdout and "v1alpha1" in version.stdout

    deleted = cluster.w2sctl("delete", cluster.name)
    assert deleted.returncode == 0, deleted.stderr
    wait_until(
        lambda: (
            not cluster.kubectl("get", "w2sx", "-o", "name").stdout.strip()
            and not cluster.batch.list_namespaced_job(cluster.namespace).items
        ),
        60,
        "the experiment to go and the garbage collector to delete its Jobs",
    )
    gone = one_error_line(cluster.w2sctl("status", cluster.name))
    assert f"experiment {cluster.namespace}/{cluster.name}: not found" in gone


def test_a_failed_stage_wait_status_logs_then_retry_and_redo(cluster, failure):
    submitted = cluster.w2sctl("submit", str(cluster.manifest_file()))
    assert submitted.returncode == 0, submitted.stderr
    cluster.drive(fail={"weak-s1-r0": failure(2, None, TRAINER_ERROR)})

    waited = cluster.w2sctl("wait", cluster.name, "--for", "succeeded", "--timeout", "30s")
    assert waited.returncode == 3, (waited.stdout, waited.stderr)
    assert waited.stderr.strip().splitlines()[-1] == (
        f"Error: {cluster.namespace}/{cluster.name}: Failed: stage weak-s1-r0 failed: exit code 2; "
        f"last log lines: {TRAINER_ERROR}"
    )
    shown = cluster.w2sctl("status", cluster.name)
    assert shown.returncode == 0 and "exit code 2" in shown.stdout and TRAINER_ERROR in shown.stdout
    # fake-node runs no kubelet server: the API server cannot fetch the log, and w2sctl says so in one line.
    logs = one_error_line(cluster.w2sctl("logs", cluster.name, "--stage", "weak-s1-r0"))
    assert "pods/log" in logs and "HTTP 500" in logs
    before = cluster.job_uids()

    retried = cluster.w2sctl("retry", cluster.name)
    assert retried.returncode == 0 and "retrying weak-s1-r0" in retried.stdout, retried.stderr
    cluster.drive(until=lambda s: s.get("retryToken") and s.get("phase") == "Succeeded")
    after = cluster.job_uids()
    assert {stage for stage in before if after[stage] != before[stage]} == {"weak-s1-r0"}

    redone = cluster.w2sctl("retry", cluster.name, "--stage", "strong-s1-ensemble")
    assert redone.returncode == 0, redone.stderr
    ended = cluster.drive(
        until=lambda s: s.get("redoToken") and s.get("phase") == "Succeeded" and not s["redoingStages"]
    )
    assert sorted(ended) == ["report", "strong-s1-ensemble"]


def test_suspend_holds_new_stages_and_resume_starts_them(cluster, kubelet, wait_until):
    """v1.20 has no Job ``suspend`` (1.21): the server drops the field, so a stage already running keeps
    running; what the operator controls itself, starting no new stage, works. Job-level suspension is
    covered by the KMock tests (tests/operator/integration/test_suspend_resume.py)."""
    cluster.submit()
    prepare = wait_until(lambda: [p for p in kubelet.pods(cluster.namespace) if kubelet.waiting(p)], 30, "prepare")[0]

    suspended = cluster.w2sctl("suspend", cluster.name)
    assert suspended.returncode == 0, suspended.stderr
    wait_until(lambda: cluster.status().phase is Phase.SUSPENDED, 30, "phase Suspended")
    job = cluster.batch.read_namespaced_job(f"{cluster.name}-prepare-s1", cluster.namespace)
    assert job.spec.suspend is None  # dropped by v1.20: the pod keeps running
    kubelet.succeed(prepare)
    status = wait_until(
        lambda: (s := cluster.status()).succeeded_stages == ["prepare-s1"] and s, 30, "prepare-s1 to be observed"
    )
    assert status.phase is Phase.SUSPENDED
    assert set(cluster.job_uids()) == {"prepare-s1"}  # observed in the reconcile that would have created more

    resumed = cluster.w2sctl("resume", cluster.name)
    assert resumed.returncode == 0, resumed.stderr
    cluster.drive()
    assert cluster.status().phase is Phase.SUCCEEDED


def test_forbidden_verbs_get_one_readable_line(cluster, viewer):
    ns = cluster.namespace
    cluster.submit()

    assert cluster.w2sctl("list", kubeconfig=viewer).returncode == 0
    assert cluster.w2sctl("status", cluster.name, kubeconfig=viewer).returncode == 0
    refused = {
        "patch": ("submit", str(cluster.manifest_file())),
        "delete": ("delete", cluster.name),
        "list": ("logs", cluster.name, "--stage", "prepare-s1"),
    }
    for verb, args in refused.items():
        line = one_error_line(cluster.w2sctl(*args, kubeconfig=viewer))
        assert f'User "system:serviceaccount:{ns}:{VIEWER}" cannot {verb} resource' in line, line
        assert f"ask an admin to grant it, e.g. kubectl create role w2sctl-user -n {ns} --verb={verb}" in line, line
