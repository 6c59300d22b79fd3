"""A real Prometheus scrapes the real exporters during a tiny local run; every dashboard query and every
alert's selectors return series, and every alert rule evaluates.

Scraped (every 1 s, ``honor_labels`` as the ServiceMonitor and PodMonitor do):

- ``w2sctl run --metrics-port``: the run's experiment (from its store) and its live training metrics;
- ``w2sctl metrics serve --store``: the same store, still served after the run ends;
- the operator's registry (``OperatorMetrics``), fed by this test with the stages the run finished: no
  operator runs in a local run, and the metrics are the operator's real ones;
- a static stand-in for NVIDIA's dcgm-exporter (one ``DCGM_FI_DEV_GPU_UTIL`` series with its labels).

Queries are range queries over the whole test, so a training stage that lasted two seconds counts.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ensemw2s.operator.metrics import OperatorMetrics
from ensemw2s.spec import StageKind, build_stage_graph, parse_manifest
from ensemw2s.spec.results import PGRs
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "manifests" / "monitoring"
W2SCTL = str(Path(sys.executable).with_name("w2sctl"))
IDENTIFIER = re.compile(r"(?<![\w:$.])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?")
NOT_METRICS = {"by", "on", "and", "or", "unless", "offset", "group_left", "bool", "without", "ignoring", "le"}
NEEDS_CUDA = {"ensemw2s_training_gpu_memory_allocated_bytes", "ensemw2s_training_gpu_memory_peak_bytes"}
UNDEFINED_IN_TINY_RUN = {"ensemw2s_report_pgr"}
"""The tiny run's accuracies sit at chance, so every PGR is n/a (not defined: no series); the exporter's PGR
series are checked by tests/metrics/test_experiment_metrics.py."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class DcgmStandIn:
    """What dcgm-exporter (with its Kubernetes pod mapping) exports for one GPU of a stage pod."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["gpu", "UUID", "device", "modelName", "Hostname", "container", "namespace", "pod"]
        family = GaugeMetricFamily("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", labels=labels)
        values = ["0", "GPU-1", "nvidia0", "NVIDIA H200", "node-1", "trainer", "default", "tiny-strong-s1-w2s-x"]
        family.add_metric(values, 87.0)
        yield family


class Prometheus:
    def __init__(self, binary: str, folder: Path, targets: dict[str, int], rules: Path) -> None:
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "900ms"},
            "rule_files": [str(rules)],
            "scrape_configs": [
                {"job_name": job, "honor_labels": True, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
                for job, port in targets.items()
            ],
        }
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = (folder / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.wait_for(lambda: self.get("/-/ready") is not None, "Prometheus to be ready", 30)

    def get(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:  # a bad query: Prometheus says why in JSON
            body = exc.read()
        except OSError:
            return None
        return json.loads(body) if path.startswith("/api/") else body

    def query_range(self, expr: str, start: float, end: float) -> list[dict[str, Any]]:
        answer = self.get("/api/v1/query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step="1")
        assert answer is not None and answer["status"] == "success", f"{expr}: {answer}"
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def wait_for(self, ready: Any, what: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"waited {seconds} s for {what}; see the Prometheus log")
            time.sleep(0.2)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads((ROOT / "charts/ensemw2s/files/grafana-dashboard.json").read_text(encoding="utf-8"))
    return [(f"panel {p['title']!r} {t['refId']}", t["expr"]) for p in dashboard["panels"] for t in p["targets"]]


def alert_rules() -> list[dict[str, Any]]:
    [rule] = [doc for doc in yaml.safe_load_all((MONITORING / "prometheusrule.yaml").read_text()) if doc]
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def grafana(expr: str, window: int) -> str:
    """The query as Grafana sends it: every variable on "All", the intervals of the test's scale."""
    for variable, value in {
        "$__rate_interval": "5s",
        "$__range": f"{window}s",
        "$namespace": ".*",
        "$baseline": ".*",
    }.items():
        expr = expr.replace(variable, value)
    return expr


def selectors(expr: str) -> list[str]:
    """Each metric selector of a PromQL expression (``name{matchers}``)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', lambda m: m.group(0).replace("(", "").replace(")", ""), expr)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    found = []
    for match in IDENTIFIER.finditer(text):
        name, matchers = match.group(1), match.group(2)
        called = not matchers and text[match.end(1) :].lstrip().startswith("(")
        if name not in NOT_METRICS and not called:
            found.append(name + (matchers or ""))
    return found


@pytest.fixture
def operator_metrics() -> Iterator[tuple[OperatorMetrics, int]]:
    metrics = OperatorMetrics()
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    yield metrics, port
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def dcgm() -> Iterator[int]:
    registry = CollectorRegistry()
    registry.register(DcgmStandIn())
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield port
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_prometheus_scrapes_a_tiny_run_and_every_panel_and_alert_has_series(
    prometheus_server: str,
    tmp_path: Path,
    tiny_file: Path,
    operator_metrics: tuple[OperatorMetrics, int],
    dcgm: int,
) -> None:
    metrics, operator_port = operator_metrics
    store = tmp_path / "runs"
    rules = tmp_path / "rules.yaml"
    [rule] = [doc for doc in yaml.safe_load_all((MONITORING / "prometheusrule.yaml").read_text()) if doc]
    rules.write_text(yaml.safe_dump(rule["spec"]))
    run_port, store_port = free_port(), free_port()
    targets = {"w2sctl-run": run_port, "w2sctl-store": store_port, "ensemw2s-operator": operator_port, "dcgm": dcgm}
    began = time.time()
    prometheus = Prometheus(prometheus_server, tmp_path, targets, rules)
    env = {**os.environ, "W2SCTL_DEBUG": ""}
    served = subprocess.Popen(
        [W2SCTL, "metrics", "serve", "--store", str(store), "--host", "127.0.0.1", "--port", str(store_port)],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        metrics.set_experiment("default", "tiny", "Running", None)
        metrics.set_experiment("default", "broken", "Failed", None)
        metrics.count_retries("OOMKilled")
        metrics.observe_reconcile("error", 0.2)  # e.g. a forbidden verb
        run = subprocess.run(
            [W2SCTL, "run", str(tiny_file), "--store", str(store), "--metrics-port", str(run_port)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        assert f"metrics: http://0.0.0.0:{run_port}/metrics" in run.stderr
        # What the operator would have recorded for this run (its registry is the real one).
        manifest = parse_manifest(yaml.safe_load(tiny_file.read_text()))
        for stage in build_stage_graph(manifest.spec).stages:
            metrics.observe_stage(stage.kind.value, 1.0 if stage.kind is not StageKind.REPORT else 3.0)
            metrics.observe_reconcile("ok", 0.01)
        metrics.set_experiment("default", "tiny", "Succeeded", PGRs(w2s_vs_weak=0.4, ensemw2s_vs_weak=0.5))
        succeeded = 'ensemw2s_experiment_phase{job="w2sctl-store", phase="Succeeded"} == 1'
        prometheus.wait_for(
            lambda: prometheus.query_range(succeeded, time.time() - 1, time.time()),
            "the store exporter's Succeeded experiment to be scraped",
            20,
        )
        prometheus.wait_for(
            lambda: scrapes_since("ensemw2s_experiment_pgr", prometheus, 5) >= 3,
            "three scrapes of the operator's registry after the run (rate() needs two)",
            15,
        )
        end = time.time()
        window = int(end - began) + 1
        missing = []
        for where, expr in dashboard_queries():
            query = grafana(expr, window)
            names = {s.split("{")[0] for s in selectors(query)}
            found = prometheus.query_range(query, began, end)
            if names & NEEDS_CUDA and not _cuda():
                assert found == [], f"{where}: series without CUDA"
            elif not names & UNDEFINED_IN_TINY_RUN and not found:
                missing.append(f"{where}: {query}")
        for rule_ in alert_rules():
            prometheus.query_range(rule_["expr"], began, end)  # evaluates (status success)
            for selector in selectors(rule_["expr"]):
                if not prometheus.query_range(selector, began, end):
                    missing.append(f"alert {rule_['alert']}: {selector}")
        assert missing == [], "\n".join(missing)
        groups = prometheus.get("/api/v1/rules")["data"]["groups"]
        health = {r["name"]: (r["health"], r.get("lastError", "")) for g in groups for r in g["rules"]}
        assert set(health) == {r["alert"] for r in alert_rules()}
        assert all(state == "ok" for state, _ in health.values()), health
        stages = prometheus.query_range('count by (stage) (ensemw2s_training_step{job="w2sctl-run"})', began, end)
        assert len(stages) >= 2, f"training metrics of at least two stages were scraped (got {stages})"
    finally:
        served.terminate()
        served.wait(timeout=30)
        prometheus.close()
    assert served.stderr is not None and "error:" not in served.stderr.read()


def scrapes_since(metric: str, prometheus: Prometheus, seconds: float) -> int:
    """Samples of ``metric`` in the last ``seconds`` (one per scrape), at a one-second step."""
    now = time.time()
    found = prometheus.get("/api/v1/query", query=f"count_over_time({metric}[{int(seconds)}s])", time=f"{now:.3f}")
    result = found["data"]["result"] if found else []
    return min((int(float(r["value"][1])) for r in result), default=0)


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def test_the_selector_parser() -> None:
    assert selectors('sum by (le, kind) (rate(a_bucket{x="(y)"}[5m])) / on (k) group_left () b offset 15m') == [
        'a_bucket{x="y"}',
        "b",
    ]
    assert selectors('time() - c{n=~".*"} > 5') == ['c{n=~".*"}']
