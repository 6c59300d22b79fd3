"""The ``EnsemW2SExperiment`` CustomResourceDefinition, generated from the typed models.

One source of truth: the openAPIV3Schema is :class:`~ensemw2s.spec.ExperimentSpec`'s JSON Schema
(and :class:`~.status_model.ExperimentStatus`'s) made *structural*: every ``$ref`` inlined,
``anyOf: [X, null]`` turned into ``X`` + ``nullable: true``, ``exclusiveMinimum: v`` into
``minimum: v`` + ``exclusiveMinimum: true`` (OpenAPI 3.0), ``additionalProperties: false`` dropped
(the API server prunes unknown fields, and rejects them under strict field validation, the kubectl
default), free-form maps marked ``x-kubernetes-preserve-unknown-fields``.

Regenerate the checked-in file after changing a model::

    cd /tmp && python -c "from ensemw2s.operator.crd import main; main()"
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from ensemw2s.spec import API_GROUP, API_VERSION, KIND, PLURAL, SHORT_NAMES, ExperimentSpec

from .generated import write_generated
from .status_model import ExperimentStatus

CRD_NAME = f"{PLURAL}.{API_GROUP}"
CATEGORIES = ("ensemw2s",)
CRD_FILE = Path("manifests") / "crd" / f"{CRD_NAME}.yaml"
CHART_CRD_FILE = Path("charts") / "ensemw2s" / "crds" / f"{CRD_NAME}.yaml"
"""The chart's copy (Helm installs ``crds/`` before the templates); written with :data:`CRD_FILE`."""
REGENERATE = 'cd /tmp && python -c "from ensemw2s.operator.crd import main; main()"'
HEADER = f"# Generated from the typed models by ensemw2s.operator.crd; do not edit.\n# Regenerate: {REGENERATE}\n"

_KEPT = (
    "type",
    "format",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "description",
    "default",
)

PRINTER_COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Stage", "type": "string", "jsonPath": ".status.stage"},
    {"name": "Round", "type": "string", "jsonPath": ".status.round"},
    {"name": "PGR", "type": "string", "jsonPath": ".status.pgr", "description": "EnsemW2S vs weak, mean over seeds"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1},
)


class SchemaConversionError(ValueError):
    """A model uses a JSON Schema construct a structural CRD schema cannot express."""


def structural_schema(json_schema: Mapping[str, Any], *, defaults: bool = True) -> dict[str, Any]:
    """A pydantic JSON Schema as a Kubernetes structural schema (see the module docstring)."""
    definitions: Mapping[str, Any] = json_schema.get("$defs", {})

    def resolve(node: Mapping[str, Any], path: str) -> dict[str, Any]:
        node = dict(node)
        for key in ("$ref", "allOf"):
            if key in node:
                target = node.pop(key)
                if key == "allOf":
                    if len(target) != 1:
                        raise SchemaConversionError(f"{path}: allOf with {len(target)} schemas is not supported")
                    target = target[0]
                    if "$ref" not in target:
                        return convert({**target, **node}, path)
                    target = target["$ref"]
                base = definitions[str(target).rsplit("/", 1)[-1]]
                return convert({**base, **node}, path)
        return convert(node, path)

    def convert(node: Mapping[str, Any], path: str) -> dict[str, Any]:
        if "$ref" in node or "allOf" in node:
            return resolve(node, path)
        if "anyOf" in node or "oneOf" in node:
            options = list(node.get("anyOf") or node.get("oneOf") or [])
            rest = {k: v for k, v in node.items() if k not in {"anyOf", "oneOf"}}
            present = [o for o in options if o != {"type": "null"}]
            if len(present) != 1:
                raise SchemaConversionError(f"{path}: unions of {len(present)} types are not structural")
            single = resolve({**present[0], **rest}, path)
            if len(present) < len(options):
                single["nullable"] = True
            return single
        out: dict[str, Any] = {k: copy.deepcopy(node[k]) for k in _KEPT if k in node}
        if "exclusiveMinimum" in node:
            out.update(minimum=node["exclusiveMinimum"], exclusiveMinimum=True)
        if "exclusiveMaximum" in node:
            out.update(maximum=node["exclusiveMaximum"], exclusiveMaximum=True)
        if out.get("default", 0) is None or not defaults:
            out.pop("default", None)
        if "properties" in node:
            out["type"] = "object"
            out["properties"] = {k: resolve(v, f"{path}.{k}") for k, v in node["properties"].items()}
            if node.get("required"):
                out["required"] = list(node["required"])
        elif "items" in node:
            out["items"] = resolve(node["items"], f"{path}[]")
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping) and extra:
            out["additionalProperties"] = resolve(extra, f"{path}.*")
        elif out.get("type") in {None, "object"} and "properties" not in out and extra is not False:
            # dict[str, Any], Any: free-form JSON kept as written.
            out["x-kubernetes-preserve-unknown-fields"] = True
        return out

    return resolve(json_schema, "")


def spec_schema() -> dict[str, Any]:
    schema = structural_schema(ExperimentSpec.model_json_schema(by_alias=True))
    schema["description"] = "What the experiment computes and how it runs; see docs and manifests/examples."
    return schema


def status_schema() -> dict[str, Any]:
    schema = structural_schema(ExperimentStatus.model_json_schema(by_alias=True), defaults=False)
    schema["description"] = "Written by the operator."
    conditions = schema["properties"]["conditions"]
    conditions["x-kubernetes-list-type"] = "map"
    conditions["x-kubernetes-list-map-keys"] = ["type"]
    # Kopf may keep handler progress here (its "smart" progress storage); never pruned.
    schema["properties"]["kopf"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return schema


def build_crd() -> dict[str, Any]:
    """The ``apiextensions.k8s.io/v1`` CustomResourceDefinition of ``EnsemW2SExperiment``."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": CRD_NAME,
            "labels": {"app.kubernetes.io/name": "ensemw2s", "app.kubernetes.io/part-of": "ensemw2s"},
        },
        "spec": {
            "group": API_GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": KIND.lower(),
                "shortNames": list(SHORT_NAMES),
                "categories": list(CATEGORIES),
            },
            "versions": [
                {
                    "name": API_VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [dict(c) for c in PRINTER_COLUMNS],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "An EnsemW2S weak-to-strong experiment: one Job per stage.",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema(),
                                "status": status_schema(),
                            },
                        }
                    },
                }
            ],
        },
    }


def render_crd() -> str:
    """The checked-in YAML text."""
    return HEADER + yaml.safe_dump(build_crd(), sort_keys=False, width=120, allow_unicode=True)


def validation_schema(openapi: Mapping[str, Any], *, strict: bool = True) -> dict[str, Any]:
    """A CRD's OpenAPI schema as plain JSON Schema (for ``jsonschema`` and ``w2sctl validate``).

    ``nullable`` becomes a ``null`` type, boolean ``exclusiveMinimum``/``exclusiveMaximum`` become
    numbers, ``x-kubernetes-*`` keys go; with ``strict`` unknown fields are errors, as under the API
    server's strict field validation.
    """

    def convert(node: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key.startswith("x-kubernetes-") or key == "nullable":
                continue
            if key == "properties":
                out[key] = {k: convert(v) for k, v in value.items()}
            elif key in {"items", "additionalProperties"} and isinstance(value, Mapping):
                out[key] = convert(value)
            elif key in {"exclusiveMinimum", "exclusiveMaximum"}:
                if value is True:
                    out[key] = node["minimum" if key == "exclusiveMinimum" else "maximum"]
            else:
                out[key] = copy.deepcopy(value)
        for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
            if node.get(exclusive) is True:
                out.pop(bound, None)
        if node.get("nullable") and "type" in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        if strict and "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
            out.setdefault("additionalProperties", False)
        return out

    return convert(openapi)


def experiment_json_schema(*, strict: bool = True) -> dict[str, Any]:
    """JSON Schema of a whole ``EnsemW2SExperiment`` manifest, as the API server would check it."""
    return validation_schema(build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"], strict=strict)


def main(argv: Sequence[str] | None = None) -> None:
    """Write the CRD to ``manifests/crd/`` and the chart's ``crds/`` (or ``--output``; ``-`` for stdout)."""
    description = "Generate the EnsemW2SExperiment CRD from the typed models."
    write_generated(render_crd, CRD_FILE, description, argv)
    if not argv:
        write_generated(render_crd, CHART_CRD_FILE, description, argv)


__all__ = [
    "CHART_CRD_FILE",
    "CRD_FILE",
    "CRD_NAME",
    "PRINTER_COLUMNS",
    "REGENERATE",
    "SchemaConversionError",
    "build_crd",
    "experiment_json_schema",
    "main",
    "render_crd",
    "spec_schema",
    "status_schema",
    "structural_schema",
    "validation_schema",
]
