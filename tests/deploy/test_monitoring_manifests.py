"""``manifests/monitoring``: every metric and label the dashboard and the alerts use is one we export (the
operator's registry, the trainer's live training metrics, ``w2sctl metrics serve``'s experiments; sample
names with ``_bucket/_sum/_count/_total``) or NVIDIA's dcgm-exporter's; the ServiceMonitor scrapes the
metrics Service of ``manifests/install`` and the PodMonitor the stage pods' ``metrics`` port."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from ensemw2s.cli.experiment_metrics import ExperimentCollector, ExportedExperiment
from ensemw2s.operator.metrics import OperatorMetrics
from ensemw2s.operator.status_model import ExperimentStatus, Phase, StagePhase, StageStatus, StageSummaryStatus
from ensemw2s.spec import build_stage_graph, parse_manifest
from ensemw2s.spec.results import Accuracies, ExperimentResults, PGRs
from ensemw2s.trainer.metrics import LiveTraining, StageLabels, TrainingCollector
from ensemw2s.trainer.training import ProgressEvent
from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "manifests" / "monitoring"
DASHBOARD = ROOT / "charts" / "ensemw2s" / "files" / "grafana-dashboard.json"
"""The dashboard's source: the chart's ConfigMap and manifests/monitoring/grafana-dashboard.yaml embed it."""
INSTALL = ROOT / "manifests" / "install"
TARGET_LABELS = frozenset({"job", "instance", "pod", "service", "endpoint", "container"})
"""Labels Prometheus adds to every scraped series. Not ``namespace``: with ``honorLabels`` it is the
experiment's on the series that have one, and the operator's on the others; using it is a bug."""
KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless"})
KEYWORDS |= {"offset", "inf", "nan"}

_STRING = r'"(?:[^"\\]|\\.)*"'
SELECTOR = re.compile(rf"(?<![\w:$])([a-zA-Z_:][\w:]*)?\s*\{{((?:[^{{}}\"]|{_STRING})*)\}}")
MATCHER = re.compile(rf"\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*({_STRING})\s*(?:,|$)")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
IDENTIFIER = re.compile(r"(?<![\w:$.])([a-zA-Z_:][\w:]*)(\s*\()?")
LABEL_VALUES = re.compile(r"label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*(\w+)\s*\)")
LEGEND = re.compile(r"\{\{\s*\$?(?:labels\.)?(\w+)\s*\}\}")
ALERT_LABEL = re.compile(r"\$labels\.(\w+)")


EXPERIMENT = {
    "apiVersion": "ensemw2s.io/v1alpha1",
    "kind": "EnsemW2SExperiment",
    "metadata": {"name": "tiny"},
    "spec": {
        "seeds": [1],
        "dataset": {"name": "synthetic-sentiment", "sizes": {"easy": 160, "val": 60, "hardTrain": 120, "hardTest": 80}},
        "weak": {"model": "tiny-weak", "rounds": 2},
        "strong": {"model": "tiny-strong"},
        "storage": {"uri": "s3://bucket/runs"},
    },
}
DCGM = {
    "DCGM_FI_DEV_GPU_UTIL": frozenset(
        {"gpu", "UUID", "device", "modelName", "Hostname", "container", "namespace", "pod"}
    )
}
"""NVIDIA dcgm-exporter's GPU utilisation, with the labels its Kubernetes pod mapping adds."""


def _training_registry() -> CollectorRegistry:
    live = LiveTraining()
    live.begin_stage(StageLabels("ns", "exp", "weak-s1-r0", "weak"))
    live.observe(ProgressEvent(1, 2, 0.5, 0.7, 1e-3, 10.0, 90.0, 16, 144))
    registry = CollectorRegistry()
    registry.register(TrainingCollector(live, gpus=lambda: [("0", 1, 2)]))
    return registry


def _experiments_registry() -> CollectorRegistry:
    spec = parse_manifest(EXPERIMENT).spec
    status = ExperimentStatus(
        phase=Phase.RUNNING,
        succeeded_stages=["weak-s1-r0"],
        stages=[
            StageStatus(
                name="weak-s1-r0",
                phase=StagePhase.SUCCEEDED,
                summary=StageSummaryStatus(seconds=1, metrics={"eps": 0.2, "alpha": 1.0}),
            )
        ],
        results=ExperimentResults(experiment="exp", mean=Accuracies(weak=0.6), mean_pgr=PGRs(w2s_vs_weak=0.3)),
    )
    registry = CollectorRegistry()
    registry.register(ExperimentCollector("store", lambda: [ExportedExperiment("ns", "exp", spec, status, 1.0)]))
    return registry


@cache
def exported() -> dict[str, frozenset[str]]:
    """Every sample name we export and its labels, from the registries after using every metric."""
    metrics = OperatorMetrics()
    metrics.set_experiment("ns", "exp", Phase.SUCCEEDED.value, PGRs(ensemw2s_vs_weak=0.5))
    metrics.observe_stage("weak", 1.0)
    metrics.count_retries("OOMKilled")
    metrics.observe_reconcile("ok", 0.1)
    samples: dict[str, frozenset[str]] = dict(DCGM)
    for registry in (metrics.registry, _training_registry(), _experiments_registry()):
        for family in registry.collect():
            assert family.samples, f"{family.name}: no sample; exercise it in exported()"
            for sample in family.samples:
                if not sample.name.endswith("_created"):
                    samples[sample.name] = samples.get(sample.name, frozenset()) | frozenset(sample.labels)
    return samples


def test_no_metric_name_is_exported_by_two_components() -> None:
    """The trainer's, w2sctl's and the operator's names differ, so one Prometheus can scrape all three."""
    operator = OperatorMetrics()
    names = [{family.name for family in operator.registry.collect()}]
    names += [{family.name for family in r.collect()} for r in (_training_registry(), _experiments_registry())]
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            assert first & second == set()


@dataclass
class Query:
    """The metrics, matchers and grouping labels of one PromQL expression."""

    expr: str
    metrics: set[str] = field(default_factory=set)
    matchers: list[tuple[str, str, str, str]] = field(default_factory=list)  # metric, label, op, value
    grouping: set[str] = field(default_factory=set)
    first: str | None = None  # the first metric (the left side of a join)

    @property
    def labels(self) -> frozenset[str]:
        """Labels every series of the expression's metrics has (target labels included)."""
        sets = [exported().get(name, frozenset()) for name in self.metrics]
        common = frozenset.intersection(*sets) if sets else frozenset()
        return common | TARGET_LABELS

    @property
    def result_labels(self) -> frozenset[str]:
        """Labels a legend or an alert annotation can use: the grouping ones after an aggregation, the left
        side's after a ``group_left`` join."""
        if "group_left" in self.expr and self.first is not None:
            return exported().get(self.first, frozenset()) | TARGET_LABELS
        return frozenset(self.grouping) | TARGET_LABELS if self.grouping else self.labels


def parse(expr: str) -> Query:
    query = Query(expr)
    for match in SELECTOR.finditer(expr):
        metric, body = match.group(1), match.group(2)
        assert metric, f"{expr}: a selector without a metric name"
        consumed = "".join(m.group(0) for m in MATCHER.finditer(body))
        assert consumed.strip() == body.strip(), f"{expr}: cannot parse the matchers {body!r}"
        query.matchers += [(metric, m.group(1), m.group(2), json.loads(m.group(3))) for m in MATCHER.finditer(body)]
    text = SELECTOR.sub(lambda m: f" {m.group(1)} ", expr)
    query.grouping = {
        label.strip() for m in GROUPING.finditer(text) for label in m.group(1).split(",") if label.strip()
    }
    text = GROUPING.sub(" ", text)
    text = re.sub(_STRING, " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors: [5m], [$__rate_interval]
    for match in IDENTIFIER.finditer(text):
        name, call = match.group(1), match.group(2)
        if not call and name not in KEYWORDS:
            query.first = query.first or name
            query.metrics.add(name)
    assert query.metrics, f"{expr}: no metric found"
    return query


def check(query: Query, where: str, used_labels: Collection[str] = ()) -> list[str]:
    """Problems of one expression: unknown metrics, labels the metrics lack, bad phase values."""
    problems = []
    for metric in sorted(query.metrics):
        if metric not in exported():
            problems.append(f"{where}: {metric} is not exported (known: {sorted(exported())})")
    if problems:
        return problems
    for metric, label, op, value in query.matchers:
        if label not in exported()[metric] | TARGET_LABELS:
            problems.append(f"{where}: {metric} has no label {label!r} (has {sorted(exported()[metric])})")
        if label == "phase" and op == "=" and value not in {p.value for p in Phase}:
            problems.append(f"{where}: phase {value!r} is not one of {[p.value for p in Phase]}")
    for label in sorted(query.grouping - query.labels):
        problems.append(f"{where}: grouping by {label!r}, which {sorted(query.metrics)} lack")
    for label in sorted(set(used_labels) - query.result_labels):
        problems.append(f"{where}: uses the label {label!r}, which the result of {query.expr!r} lacks")
    return problems


def load(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((MONITORING / name).read_text(encoding="utf-8")) if doc]


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def panel_targets() -> Iterator[tuple[str, dict[str, Any]]]:
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} target {target.get('refId')}", target


def rules() -> Iterator[dict[str, Any]]:
    for doc in load("prometheusrule.yaml"):
        for group in doc["spec"]["groups"]:
            yield from group["rules"]


# -- the tests --------------------------------------------------------------------------------------


def test_the_parser_finds_metrics_matchers_and_grouping() -> None:
    query = parse(
        'histogram_quantile(0.95, sum by (le, kind) (rate(ensemw2s_stage_duration_seconds_bucket{kind=~"$k"}'
        "[$__rate_interval]))) / on() group_left sum(ensemw2s_reconcile_total offset 5m) > 1e3"
    )
    assert query.metrics == {"ensemw2s_stage_duration_seconds_bucket", "ensemw2s_reconcile_total"}
    assert query.matchers == [("ensemw2s_stage_duration_seconds_bucket", "kind", "=~", "$k")]
    assert query.grouping == {"le", "kind"}
    assert check(parse("sum by (phase) (ensemw2s_experiment_pgr)"), "x") != []  # pgr has no phase
    assert check(parse('ensemw2s_experiments{phase="Done"}'), "x") != []  # not a phase
    assert check(parse("rate(ensemw2s_stage_retries[5m])"), "x") != []  # a counter's samples end in _total
    assert check(parse("sum by (namespace) (ensemw2s_reconcile_total)"), "x") != []  # the target's, not ours
    assert check(parse("sum by (reason) (ensemw2s_stage_retries_total)"), "x", {"kind"}) != []
    assert check(parse("sum by (reason) (ensemw2s_stage_retries_total)"), "x", {"reason", "pod"}) == []


def test_every_dashboard_query_uses_exported_metrics_and_labels() -> None:
    problems: list[str] = []
    used: set[str] = set()
    for where, target in panel_targets():
        query = parse(target["expr"])
        used |= query.metrics
        problems += check(query, where, set(LEGEND.findall(target.get("legendFormat", ""))))
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] != "query":
            continue
        definition = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        match = LABEL_VALUES.fullmatch(definition.strip())
        assert match, f"variable {variable['name']}: expected label_values(METRIC, LABEL) (got {definition!r})"
        metric, label = match.groups()
        used.add(metric)
        if label not in exported().get(metric, frozenset()):
            problems.append(f"variable {variable['name']}: {metric} has no label {label!r}")
    assert problems == []
    families = {name.removesuffix(suffix) for name in used for suffix in ("_bucket", "_sum", "_count", "_total")}
    families |= used
    shown = {"ensemw2s_experiments", "ensemw2s_stage_duration_seconds", "ensemw2s_stage_retries", "ensemw2s_reconcile"}
    shown |= {"ensemw2s_reconcile_duration_seconds", "ensemw2s_experiment_pgr"}
    shown |= {"ensemw2s_training_loss", "ensemw2s_training_examples_per_second", "ensemw2s_training_tokens_per_second"}
    shown |= {
        "ensemw2s_training_step",
        "ensemw2s_training_learning_rate",
        "ensemw2s_training_gpu_memory_allocated_bytes",
    }
    shown |= {"ensemw2s_weak_round_error_ratio", "ensemw2s_weak_round_alpha", "ensemw2s_report_accuracy_ratio"}
    shown |= {"ensemw2s_report_pgr", "ensemw2s_experiment_phase", "DCGM_FI_DEV_GPU_UTIL"}
    assert shown <= families, f"the dashboard shows no {sorted(shown - families)}"


def test_every_alert_uses_exported_metrics_and_labels() -> None:
    problems: list[str] = []
    names = []
    for rule in rules():
        names.append(rule["alert"])
        assert {"alert", "expr", "labels", "annotations"} <= rule.keys(), rule
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        if "for" in rule:
            assert re.fullmatch(r"(\d+[smhdwy])+", rule["for"]), rule["for"]
        text = " ".join(rule["annotations"].values())
        problems += check(parse(rule["expr"]), f"alert {rule['alert']}", set(ALERT_LABEL.findall(text)))
    assert problems == []
    assert len(names) == len(set(names)) == 7, names


def test_the_operator_down_alert_watches_a_series_that_always_exists() -> None:
    rule = next(r for r in rules() if "absent(" in r["expr"])
    [metric] = parse(rule["expr"]).metrics
    assert not exported()[metric], f"{metric} has labels: it is absent until first observed, not only when down"


def test_the_dashboard_is_valid_grafana_json() -> None:
    data = dashboard()
    assert data["uid"] and data["title"] and isinstance(data["schemaVersion"], int)
    ids = [panel["id"] for panel in data["panels"]]
    assert len(ids) == len(set(ids))
    for panel in data["panels"]:
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys() and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        assert panel["datasource"]["uid"] == "${datasource}"
        refs = [target["refId"] for target in panel["targets"]]
        assert refs and len(refs) == len(set(refs))
    assert any(variable["name"] == "datasource" for variable in data["templating"]["list"])


def test_the_service_monitor_scrapes_the_metrics_service() -> None:
    [monitor] = load("servicemonitor.yaml")
    services = [
        doc
        for path in sorted(INSTALL.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc and doc["kind"] == "Service"
    ]
    deployment = next(
        doc
        for doc in yaml.safe_load_all((INSTALL / "operator.yaml").read_text(encoding="utf-8"))
        if doc["kind"] == "Deployment"
    )
    selector = monitor["spec"]["selector"]["matchLabels"]
    selected = [s for s in services if selector.items() <= s["metadata"]["labels"].items()]
    assert len(selected) == 1, "the ServiceMonitor must select exactly the metrics Service"
    [service] = selected
    assert service["metadata"]["namespace"] in monitor["spec"]["namespaceSelector"]["matchNames"]
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["path"] == deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"]
    if any("namespace" in labels for labels in exported().values()):
        assert endpoint.get("honorLabels") is True, "keep the operator's own namespace label"


def test_the_pod_monitor_scrapes_the_metrics_port_of_training_stage_pods() -> None:
    from ensemw2s.operator.jobs import Owner, build_stage_job

    [monitor] = load("podmonitor.yaml")
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    assert monitor["spec"]["namespaceSelector"] == {"any": True}
    assert endpoint["honorLabels"] is True, "keep the trainer's namespace and experiment labels"
    manifest = parse_manifest(EXPERIMENT)
    owner = Owner("ensemw2s.io/v1alpha1", "EnsemW2SExperiment", "tiny", "default", "uid-1")
    selector = monitor["spec"]["selector"]["matchLabels"]
    for name in ("weak-s1-r0", "strong-s1-w2s"):
        stage = build_stage_graph(manifest.spec).by_name(name)
        template = build_stage_job(manifest, stage, owner)["spec"]["template"]
        assert selector.items() <= template["metadata"]["labels"].items(), name
        [container] = template["spec"]["containers"]
        assert endpoint["port"] in {port["name"] for port in container["ports"]}, name
    [keep] = endpoint["relabelings"]
    assert keep["action"] == "keep" and re.fullmatch(keep["regex"], "") and re.fullmatch(keep["regex"], "0")
    assert not re.fullmatch(keep["regex"], "1"), "only completion index 0 (rank 0) serves"


def test_the_kustomization_lists_existing_files_only() -> None:
    [kustomization] = load("kustomization.yaml")
    files = list(kustomization["resources"])
    assert all((MONITORING / name).is_file() and Path(name).parent == Path(".") for name in files), files
    present = sorted(p.name for p in MONITORING.iterdir() if p.name != "kustomization.yaml")
    assert sorted(files) == present


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_kustomize_builds_the_monitoring() -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(MONITORING)], capture_output=True, text=True, timeout=60, check=False
    )
    assert built.returncode == 0, built.stderr
    docs = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    assert sorted(doc["kind"] for doc in docs) == ["ConfigMap", "PodMonitor", "PrometheusRule", "ServiceMonitor"]
    configmap = next(doc for doc in docs if doc["kind"] == "ConfigMap")
    assert json.loads(configmap["data"]["grafana-dashboard.json"]) == dashboard()
