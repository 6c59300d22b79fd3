"""The generated CRD: structural, complete, and as strict as the typed models on every example."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from ensemw2s.operator.crd import build_crd, experiment_json_schema, validation_schema
from ensemw2s.operator.observe import JobPhase, ObservedJob
from ensemw2s.operator.plan import plan_reconcile, plan_rejected
from ensemw2s.operator.status_model import ExperimentStatus
from ensemw2s.spec import (
    SpecError,
    Stage,
    StageKind,
    StageSummary,
    Target,
    build_stage_graph,
    parse_manifest,
    problem,
    validate_spec,
)

ROOT = Path(__file__).resolve().parents[2]
STRICT = experiment_json_schema()
CLUSTER_EXAMPLES = [
    path
    for path in sorted((ROOT / "manifests" / "examples").glob("*.yaml"))
    if yaml.safe_load(path.read_text()).get("kind") == "EnsemW2SExperiment"
]
LOCAL_EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
VERSION = build_crd()["spec"]["versions"][0]
OPENAPI = VERSION["schema"]["openAPIV3Schema"]
FORBIDDEN = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "not", "title", "const"}


def nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for key, child in (schema.get("properties") or {}).items():
        yield from nodes(child, f"{path}.{key}")
    if isinstance(schema.get("items"), dict):
        yield from nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from nodes(schema["additionalProperties"], f"{path}.*")


def test_names_scope_and_subresources():
    spec = build_crd()["spec"]
    assert build_crd()["metadata"]["name"] == "ensemw2sexperiments.ensemw2s.io"
    assert spec["group"] == "ensemw2s.io" and spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "EnsemW2SExperiment" and spec["names"]["plural"] == "ensemw2sexperiments"
    assert spec["names"]["shortNames"] == ["w2sx"] and spec["names"]["categories"] == ["ensemw2s"]
    assert VERSION["name"] == "v1alpha1" and VERSION["served"] and VERSION["storage"]
    assert VERSION["subresources"] == {"status": {}}


def test_printer_columns():
    columns = {c["name"]: c["jsonPath"] for c in VERSION["additionalPrinterColumns"]}
    assert columns["Phase"] == ".status.phase" and columns["Stage"] == ".status.stage"
    assert columns["Round"] == ".status.round" and columns["PGR"] == ".status.pgr"
    assert columns["Age"] == ".metadata.creationTimestamp"
    for column in VERSION["additionalPrinterColumns"]:
        *parents, leaf = column["jsonPath"].strip(".").split(".")
        if parents == ["status"]:
            assert OPENAPI["properties"]["status"]["properties"][leaf]["type"] == column["type"]


def test_schema_is_structural():
    for path, node in nodes(OPENAPI):
        where = path or "<root>"
        assert not FORBIDDEN & set(node), f"{where}: {FORBIDDEN & set(node)}"
        if not node.get("x-kubernetes-preserve-unknown-fields"):
            assert node.get("type"), f"{where}: every node needs a type"
        assert node.get("additionalProperties") is not False, f"{where}: additionalProperties: false is not allowed"
        assert not ("properties" in node and "additionalProperties" in node), where
        if "default" in node:
            assert node["default"] is not None, where
            jsonschema.validate(node["default"], validation_schema(node)), where
        if "exclusiveMinimum" in node:
            assert node["exclusiveMinimum"] is True and "minimum" in node, where


def test_free_form_maps_are_typed_or_preserved():
    spec = OPENAPI["properties"]["spec"]["properties"]
    assert spec["scheduling"]["properties"]["nodeSelector"]["additionalProperties"] == {"type": "string"}
    status = OPENAPI["properties"]["status"]["properties"]
    for field in ("acceptedSpec", "kopf"):
        assert status[field]["x-kubernetes-preserve-unknown-fields"] is True, field
    assert "meanPgr" in status["results"]["properties"], "the results are typed (ExperimentResults)"
    summary = status["stages"]["items"]["properties"]["summary"]
    assert "x-kubernetes-preserve-unknown-fields" not in summary and "seconds" in summary["properties"]
    assert status["conditions"]["x-kubernetes-list-type"] == "map"
    preserved = [p for p, n in nodes(OPENAPI) if n.get("x-kubernetes-preserve-unknown-fields")]
    assert all(p.startswith(".status.") for p in preserved), preserved


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", CLUSTER_EXAMPLES + LOCAL_EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_schema_valid(path):
    jsonschema.validate(load(path), STRICT)


@pytest.mark.parametrize("path", CLUSTER_EXAMPLES, ids=lambda p: p.name)
def test_cluster_examples_pass_the_operators_validation(path):
    manifest = parse_manifest(load(path), str(path))
    assert validate_spec(manifest.spec, Target.CLUSTER) == []


def test_the_examples_cover_cpu_gpu_and_multi_node():
    names = {p.stem for p in CLUSTER_EXAMPLES}
    assert {"tiny-cpu", "gpu-classification", "gpu-classification-multinode"} <= names
    gpu = parse_manifest(load(ROOT / "manifests/examples/gpu-classification.yaml"))
    assert gpu.spec.strong.resources.gpus >= 1 and gpu.spec.scheduling.queue_name
    multi = parse_manifest(load(ROOT / "manifests/examples/gpu-classification-multinode.yaml"))
    assert multi.spec.strong.nodes == 2
    tiny = parse_manifest(load(ROOT / "manifests/examples/tiny-cpu.yaml"))
    assert tiny.spec.storage.pvc is not None and not tiny.spec.weak.resources.gpus


def set_path(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    *parents, leaf = path.split(".")
    node = out
    for part in parents:
        node = node[part]
    if value is DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return out


DELETE = object()
INVALID = {
    "rounds 0": ("spec.weak.rounds", 0),
    "unknown field": ("spec.weak.boost", True),
    "unknown top-level field": ("spec.extra", {}),
    "bad enum": ("spec.ensemble.method", "boosting"),
    "negative size": ("spec.dataset.sizes.easy", -5),
    "missing dataset": ("spec.dataset", DELETE),
    "missing spec": ("spec", DELETE),
    "no seeds": ("spec.seeds", []),
    "zero learning rate": ("spec.weak.training.learningRate", 0),
    "bad quantity": ("spec.strong.resources.memory", "lots"),
    "too many nodes": ("spec.strong.nodes", 129),
    "string for int": ("spec.weak.rounds", "four"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_manifests_are_rejected_by_the_schema_and_the_models(case):
    path, value = INVALID[case]
    bad = set_path(load(ROOT / "manifests/examples/tiny-cpu.yaml"), path, value)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, STRICT)
    with pytest.raises(SpecError):
        parse_manifest(bad)


def test_unknown_fields_are_pruned_not_rejected_without_strict_validation():
    bad = set_path(load(ROOT / "manifests/examples/tiny-cpu.yaml"), "spec.weak.boost", True)
    jsonschema.validate(bad, experiment_json_schema(strict=False))


def test_the_status_the_operator_writes_fits_the_schema():
    manifest = parse_manifest(load(ROOT / "manifests/examples/tiny-cpu.yaml"))
    schema = validation_schema(OPENAPI["properties"]["status"])
    report = Stage(StageKind.REPORT)
    summary = StageSummary(stage="report", key="k", seconds=1, metrics={"a": 1.0}, results={"meanPgr": {}})
    observed = [
        ObservedJob(s, f"tiny-cpu-{s.name}", JobPhase.SUCCEEDED, 1, "2024-01-01T00:00:00Z", None, None, summary)
        for s in build_stage_graph(manifest.spec).stages
        if s != report
    ]
    observed.append(ObservedJob(report, "r", JobPhase.FAILED, 2, None, None, "exit code 1", None, "boom"))
    now = datetime(2024, 1, 1, tzinfo=UTC)
    plan = plan_reconcile(manifest, observed, ExperimentStatus(), 1, now)
    jsonschema.validate(plan.status.to_json_dict(), schema)
    rejected = plan_rejected([problem("spec.x", "bad")], 1, plan.status, now)
    jsonschema.validate(rejected.status.to_json_dict(), schema)
