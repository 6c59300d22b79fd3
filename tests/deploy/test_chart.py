"""``charts/ensemw2s``: it renders and lints for the default values and each flag (Helm as a library, the
PyPI package helm-python-sdk; no helm binary), its schema rejects typos, every rendered object is valid for
Kubernetes, every pod template meets the restricted Pod Security Standard, and ``manifests/install`` and
``manifests/monitoring`` are the chart rendered (one source)."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import helm_python as helm
import pytest
import yaml
from ensemw2s.operator.chart_values import REGENERATE, VALUES_SCHEMA_FILE, ChartValues, render_values_schema
from ensemw2s.operator.rbac import chart_permissions, cluster_role
from ensemw2s.operator.settings import parse_args
from ensemw2s.operator.stage_defaults import StageDefaults
from ensemw2s.spec.images import OPERATOR_IMAGE, OPERATOR_REPOSITORY, TRAINER_IMAGE, VERSION

from .kube_objects import validate_object
from .pod_security import pod_security_violations, pod_templates

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "ensemw2s"
Doc = dict[str, Any]

WATCHED = ["team-a", "team-b"]
FLAGS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "namespaced": {"watchNamespaces": WATCHED},
    "peering": {"replicas": 2, "peering": {"enabled": True}},
    "namespaced-peering": {"replicas": 2, "peering": {"enabled": True}, "watchNamespaces": WATCHED},
    "monitoring": {
        "metrics": {p: {"enabled": True} for p in ("serviceMonitor", "podMonitor", "prometheusRule", "dashboard")}
    },
    "network-policy": {
        "networkPolicy": {
            "enabled": True,
            "apiServerCIDRs": ["10.0.0.1/32"],
            "metricsFrom": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}],
        }
    },
    "no-rbac": {"rbac": {"create": False, "userRoles": False}, "serviceAccount": {"create": False, "name": "ops"}},
    "scheduling": {
        "nodeSelector": {"pool": "system"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "system", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["a"]}]}]
                }
            }
        },
        "priorityClassName": "system-cluster-critical",
        "imagePullSecrets": [{"name": "regcred"}],
        "extraEnv": [{"name": "W2S_RECONCILE_INTERVAL", "value": "30"}],
        "logLevel": "debug",
        "metrics": {"port": 9090},
    },
    "digest": {"image": {"digest": "sha256:" + "a" * 64}, "trainerImage": {"tag": "0.2.0"}},
    "gpu": {"experimentDefaults": {"strong": {"cpu": "8", "memory": "64Gi", "gpus": 1}}},
}


@cache
def render_manifests_tool() -> ModuleType:
    """``tools/render_manifests.py`` (a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("render_manifests", ROOT / "tools" / "render_manifests.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def render(values: Mapping[str, Any] | None = None, namespace: str = "ensemw2s-system") -> dict[str, str]:
    rendered: dict[str, str] = render_manifests_tool().render_chart(values, namespace=namespace)
    return rendered


def objects(values: Mapping[str, Any] | None = None) -> list[Doc]:
    return [
        doc
        for name, text in sorted(render(values).items())
        if name.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def container(docs: list[Doc]) -> Doc:
    [deployment] = of_kind(docs, "Deployment")
    [operator] = deployment["spec"]["template"]["spec"]["containers"]
    return dict(operator)


# -- schema and lint --------------------------------------------------------------------------------


def test_the_values_schema_is_the_generated_one() -> None:
    how = f"charts/ensemw2s/values.schema.json is out of date with ensemw2s.operator.chart_values; run {REGENERATE}"
    assert (ROOT / VALUES_SCHEMA_FILE).read_text(encoding="utf-8") == render_values_schema(), how


def test_the_default_values_are_typed_and_valid() -> None:
    defaults = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    values = ChartValues.model_validate(defaults)
    assert values.to_json_dict() == defaults, "a key of values.yaml is missing from ChartValues, or the other way"
    helm.Chart.load(CHART).validate_schema({})


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"experimentDefault": {}}, "additional properties 'experimentDefault' not allowed"),
        ({"image": {"tagg": "1"}}, "additional properties 'tagg' not allowed"),
        ({"replicas": "2"}, "/replicas"),
        ({"experimentDefaults": {"weak": {"cpu": 1}}}, "/experimentDefaults/weak/cpu"),
        ({"experimentDefaults": {"strong": {"memory": "lots"}}}, "/experimentDefaults/strong/memory"),
        ({"watchNamespaces": ["team-*"]}, "/watchNamespaces/0"),
        ({"image": {"digest": "latest"}}, "/image/digest"),
        ({"logLevel": "trace"}, "/logLevel"),
        ({"metrics": {"serviceMonitor": {"interval": "often"}}}, "/metrics/serviceMonitor/interval"),
    ],
)
def test_a_typo_or_a_wrong_type_in_values_fails_before_rendering(values: Doc, complaint: str) -> None:
    with pytest.raises(helm.HelmValuesError) as refused:
        render(values)
    assert complaint in str(refused.value)


@pytest.mark.parametrize("flag", sorted(FLAGS))
def test_the_chart_lints_clean(flag: str) -> None:
    report = helm.lint(CHART, FLAGS[flag], strict=True, namespace="ensemw2s-system")
    assert report["errors"] == [], report
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == [], problems


def test_two_replicas_without_peering_fail_with_the_reason() -> None:
    with pytest.raises(helm.HelmRenderError) as refused:
        render({"replicas": 2})
    assert "2 replicas need peering.enabled=true (got peering.enabled=false)" in str(refused.value)


def test_no_service_account_and_no_name_fails_with_the_reason() -> None:
    with pytest.raises(helm.HelmRenderError) as refused:
        render({"serviceAccount": {"create": False}})
    assert "serviceAccount.name: set it when serviceAccount.create is false" in str(refused.value)


# -- one source -------------------------------------------------------------------------------------


def test_the_plain_manifests_are_the_chart_rendered() -> None:
    tool = render_manifests_tool()
    assert tool.stale() == [], "manifests/ differ from the chart; regenerate them: python tools/render_manifests.py"


def test_the_render_tool_names_a_stale_file(tmp_path: Path) -> None:
    tool = render_manifests_tool()
    for output in tool.OUTPUTS:
        target = tmp_path / output.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(tool.render_output(output), encoding="utf-8")
    edited = tmp_path / tool.OUTPUTS[0].path
    edited.write_text(edited.read_text() + "# edited by hand\n", encoding="utf-8")
    assert tool.stale(tmp_path) == [tool.OUTPUTS[0].path]


def test_the_chart_grants_the_operators_permissions_in_each_scope() -> None:
    permissions = chart_permissions()
    [role] = of_kind(objects(), "ClusterRole")[:1]
    assert role["rules"] == cluster_role()["rules"]
    namespaced = objects(FLAGS["namespaced"])
    cluster_roles = {r["metadata"]["name"]: r for r in of_kind(namespaced, "ClusterRole")}
    assert sorted(cluster_roles) == ["ensemw2s-edit", "ensemw2s-operator-cluster-reads", "ensemw2s-view"]
    reads = cluster_roles["ensemw2s-operator-cluster-reads"]["rules"]
    assert reads == permissions["clusterReads"]["watchedNamespaces"]
    assert {verb for rule in reads for verb in rule["verbs"]} == {"list", "watch"}, "read-only cluster-wide"
    [binding] = of_kind(namespaced, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == "ensemw2s-operator-cluster-reads"
    roles = of_kind(namespaced, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == WATCHED
    assert all(r["rules"] == permissions["namespaced"] for r in roles)
    bindings = of_kind(namespaced, "RoleBinding")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == WATCHED
    assert all(
        b["subjects"] == [{"kind": "ServiceAccount", "name": "ensemw2s-operator", "namespace": "ensemw2s-system"}]
        for b in bindings
    )
    peering = objects(FLAGS["namespaced-peering"])
    assert all(r["rules"][-1] == permissions["peering"]["namespaced"] for r in of_kind(peering, "Role"))
    [cluster_wide] = [
        r for r in of_kind(objects(FLAGS["peering"]), "ClusterRole") if r["metadata"]["name"].endswith("operator")
    ]
    assert cluster_wide["rules"][-1] == permissions["peering"]["clusterWide"]


def test_the_operators_flags_follow_the_scope_and_peering() -> None:
    config = parse_args(container(objects())["args"], environ={})
    assert config.all_namespaces and config.standalone
    config = parse_args(container(objects(FLAGS["namespaced-peering"]))["args"], environ={})
    assert config.namespaces == tuple(WATCHED) and config.peering == "ensemw2s" and not config.all_namespaces
    peering = objects(FLAGS["namespaced-peering"])
    assert sorted(p["metadata"]["namespace"] for p in of_kind(peering, "KopfPeering")) == WATCHED
    assert [p["metadata"]["name"] for p in of_kind(objects(FLAGS["peering"]), "ClusterKopfPeering")] == ["ensemw2s"]
    [deployment] = of_kind(objects(FLAGS["peering"]), "Deployment")
    assert deployment["spec"]["replicas"] == 2 and deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    scheduling = container(objects(FLAGS["scheduling"]))
    config = parse_args(scheduling["args"], environ={})
    assert config.verbose and config.metrics_port == 9090
    assert {"name": "W2S_RECONCILE_INTERVAL", "value": "30"} in scheduling["env"]


def test_the_images_default_to_the_charts_app_version_and_take_a_digest() -> None:
    defaults = container(objects())
    assert defaults["image"] == OPERATOR_IMAGE
    [stage_defaults] = [e["value"] for e in defaults["env"] if e["name"] == "W2S_STAGE_DEFAULTS"]
    assert json.loads(stage_defaults)["image"] == TRAINER_IMAGE
    pinned = container(objects(FLAGS["digest"]))
    assert pinned["image"] == f"{OPERATOR_REPOSITORY}@sha256:{'a' * 64}"
    [stage_defaults] = [e["value"] for e in pinned["env"] if e["name"] == "W2S_STAGE_DEFAULTS"]
    assert json.loads(stage_defaults)["image"].endswith("trainer:0.2.0")
    assert yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"] == VERSION


def test_the_stage_defaults_reach_the_operator_as_its_flag_reads_them() -> None:
    env = {e["name"]: e["value"] for e in container(objects(FLAGS["gpu"]))["env"]}
    config = parse_args(["--all-namespaces"], environ=env)
    defaults = config.stage_defaults
    assert (defaults.strong.cpu, defaults.strong.memory, defaults.strong.gpus) == ("8", "64Gi", 1)
    assert (defaults.weak.cpu, defaults.weak.memory, defaults.weak.gpus) == ("1", "4Gi", 0)


def test_the_network_policy_allows_the_api_server_dns_and_metrics_only() -> None:
    assert of_kind(objects(), "NetworkPolicy") == []
    [policy] = of_kind(objects(FLAGS["network-policy"]), "NetworkPolicy")
    [deployment] = of_kind(objects(FLAGS["network-policy"]), "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    [ingress] = policy["spec"]["ingress"]
    assert ingress["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert ingress["from"] == FLAGS["network-policy"]["networkPolicy"]["metricsFrom"]
    api, dns = policy["spec"]["egress"]
    assert api["to"] == [{"ipBlock": {"cidr": "10.0.0.1/32"}}]
    assert {p["port"] for p in api["ports"]} == {443, 6443}
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}


def test_each_optional_part_is_behind_its_flag() -> None:
    kinds = sorted(doc["kind"] for doc in objects())
    assert kinds == sorted(
        ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ClusterRole", "ClusterRole", "Deployment", "Service"]
    )
    monitoring = {doc["kind"] for doc in objects(FLAGS["monitoring"])} - set(kinds)
    assert monitoring == {"ServiceMonitor", "PodMonitor", "PrometheusRule", "ConfigMap"}
    bare = sorted(doc["kind"] for doc in objects(FLAGS["no-rbac"]))
    assert bare == ["Deployment", "Service"]
    assert (
        container(objects(FLAGS["no-rbac"]))
        and of_kind(objects(FLAGS["no-rbac"]), "Deployment")[0]["spec"]["template"]["spec"]["serviceAccountName"]
        == "ops"
    )


def test_the_dashboard_configmap_carries_the_sidecars_label_and_the_dashboard() -> None:
    [configmap] = of_kind(objects(FLAGS["monitoring"]), "ConfigMap")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads((CHART / "files" / "grafana-dashboard.json").read_text(encoding="utf-8"))
    assert json.loads(configmap["data"]["grafana-dashboard.json"]) == dashboard


def test_the_notes_say_how_to_submit_the_first_experiment_and_where_the_dashboard_is() -> None:
    notes = render(FLAGS["monitoring"])["ensemw2s/templates/NOTES.txt"]
    assert "w2sctl submit manifests/examples/tiny-cpu.yaml" in notes
    assert "-f manifests/examples/artifacts-pvc.yaml" in notes, "the example's stages need its artifacts claim"
    assert "ConfigMap ensemw2s-grafana-dashboard in namespace ensemw2s-system" in notes
    assert "rollout status deployment/ensemw2s-operator" in notes
    namespaced = render(FLAGS["namespaced"])["ensemw2s/templates/NOTES.txt"]
    assert "watches team-a, team-b" in namespaced and "-n team-a" in namespaced
    assert "metrics.dashboard.enabled=true" in render()["ensemw2s/templates/NOTES.txt"]


# -- every object valid, every pod restricted --------------------------------------------------------


@pytest.mark.parametrize("flag", sorted(FLAGS))
def test_every_rendered_object_is_valid_for_kubernetes(flag: str) -> None:
    problems = [problem for doc in objects(FLAGS[flag]) for problem in validate_object(doc)]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("flag", sorted(FLAGS))
def test_every_pod_template_meets_the_restricted_pod_security_standard(flag: str) -> None:
    docs = objects(FLAGS[flag])
    assert any(pod_templates(doc) for doc in docs)
    violations = [line for doc in docs for line in pod_security_violations(doc)]
    assert violations == [], "\n".join(violations)


def test_the_charts_crds_are_valid_and_ours_is_the_generated_one() -> None:
    crds = [
        doc for path in sorted((CHART / "crds").glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc
    ]
    assert sorted(doc["metadata"]["name"] for doc in crds) == [
        "clusterkopfpeerings.kopf.dev",
        "ensemw2sexperiments.ensemw2s.io",
        "kopfpeerings.kopf.dev",
    ]
    problems = [problem for doc in crds for problem in validate_object(doc)]
    assert problems == [], "\n".join(problems)


def test_the_charts_default_stage_defaults_are_the_operators_built_in_ones() -> None:
    """values.yaml repeats the operator's built-in defaults (so `helm show values` shows them): in step."""
    env = {e["name"]: e["value"] for e in container(objects())["env"]}
    assert parse_args(["--all-namespaces"], environ=env).stage_defaults == StageDefaults()
