"""Validate a Kubernetes object as the API server would, before any cluster sees it.

Built-in kinds go through ``kubernetes-validate`` (Kubernetes' own OpenAPI schemas as JSON Schema) in its
strict mode: an unknown field is an error, as under ``kubectl``'s default strict field validation.
Custom resources go through their CRD's ``openAPIV3Schema``, converted to JSON Schema by the same
:func:`~ensemw2s.operator.crd.validation_schema` that ``w2sctl validate`` uses, also strict; their
``metadata`` is checked as the ``ObjectMeta`` it is. The CRDs: ours (``manifests/crd/``, generated) and the
third-party ones vendored under ``tests/deploy/crds/`` (see its README). A kind with no schema is an error:
an object nobody checked must not pass as a valid one.

Schema errata: where a schema of the chosen version contradicts the API server (see
:func:`_apply_schema_errata`), the object is corrected to what the server reads before validation.

Not checked (a cluster would): CEL rules (``x-kubernetes-validations``), formats, name and label syntax,
cross-field rules the schemas cannot express.

Test helper module: the tests of this folder import it as ``from .kube_objects import validate_object``
(pytest's importlib mode names this folder's modules ``tests.deploy.*``, so relative imports work).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from ensemw2s.operator.crd import CRD_FILE, validation_schema
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError, all_versions, major_minor
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
VENDORED_CRDS = Path(__file__).resolve().parent / "crds"
CRD_FILES = (ROOT / CRD_FILE, *sorted(VENDORED_CRDS.glob("*.yaml")))
"""Every CustomResourceDefinition whose kinds :func:`validate_object` knows."""

OLDEST_KUBERNETES = "1.20"
"""The oldest Kubernetes we support: the control plane of the ``cluster`` test suite."""
KUBE_VERSION = "1.25"
"""The Kubernetes schemas objects are validated against by default: the lowest version ``kubernetes-validate``
ships that is not older than :data:`OLDEST_KUBERNETES` (it ships none older than 1.25). A field added
after 1.25 is an error here; the stage Jobs' ``podFailurePolicy`` (1.25) is the newest field we rely on."""

ON_POD_CONDITIONS_OPTIONAL = "1.29"
"""The first schema version that does not require ``onPodConditions`` in every podFailurePolicy rule."""

Doc = dict[str, Any]


@dataclass(frozen=True)
class CustomKind:
    """A served version of a custom resource kind, with the JSON Schema its objects must satisfy."""

    api_version: str
    kind: str
    schema: Doc
    source: Path


@cache
def schema_versions() -> tuple[str, ...]:
    """The Kubernetes versions (``major.minor``) ``kubernetes-validate`` has schemas of, oldest first."""
    return tuple(dict.fromkeys(major_minor(version) for version in all_versions()))


def object_name(obj: Mapping[str, Any]) -> str:
    """``Kind/name`` (``Kind/namespace/name`` when namespaced): how an error names its object."""
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    parts = [str(obj.get("kind") or "?"), str(metadata.get("namespace") or ""), str(metadata.get("name") or "?")]
    return "/".join(part for part in parts if part)


def json_path(path: Iterable[str | int]) -> str:
    """A jsonschema error path as people write it: ``spec.containers[0].image``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(the object)"


def _with_object_fields(openapi: Mapping[str, Any]) -> Doc:
    """The root schema plus ``apiVersion``, ``kind`` and ``metadata``, which the API server accepts on every
    object even where a CRD does not list them (Kopf's peering CRDs list only ``status``)."""
    root = copy.deepcopy(dict(openapi))
    properties = root.setdefault("properties", {})
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    properties.setdefault("metadata", {"type": "object"})
    return root


def crd_kinds(crd: Mapping[str, Any], source: Path) -> list[CustomKind]:
    """The served versions of one ``apiextensions.k8s.io/v1`` CustomResourceDefinition."""
    spec = crd["spec"]
    return [
        CustomKind(
            api_version=f"{spec['group']}/{version['name']}",
            kind=spec["names"]["kind"],
            schema=validation_schema(_with_object_fields(version["schema"]["openAPIV3Schema"]), strict=True),
            source=source,
        )
        for version in spec["versions"]
        if version.get("served", True)
    ]


@cache
def custom_kinds() -> dict[tuple[str, str], CustomKind]:
    """Every custom kind of :data:`CRD_FILES`, by ``(apiVersion, kind)``."""
    kinds: dict[tuple[str, str], CustomKind] = {}
    for path in CRD_FILES:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                for custom in crd_kinds(doc, path):
                    kinds[custom.api_version, custom.kind] = custom
    return kinds


def _job_specs(obj: Doc) -> list[Doc]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    if obj.get("kind") == "Job":
        return [spec]
    if obj.get("kind") == "CronJob" and isinstance(spec.get("jobTemplate"), dict):
        job_spec = spec["jobTemplate"].get("spec")
        return [job_spec] if isinstance(job_spec, dict) else []
    return []


def _apply_schema_errata(obj: Doc, kube_version: str) -> None:
    """Correct, on the copy being validated, what a schema of ``kube_version`` gets wrong about the API.

    Before 1.29 the OpenAPI of ``PodFailurePolicyRule`` marks ``onPodConditions`` required, though a rule
    takes exactly one of ``onExitCodes`` and ``onPodConditions`` and the API server accepts either alone
    (kubernetes-client/python#2056). An ``onExitCodes`` rule gets the empty ``onPodConditions: []`` the
    server reads it as, so the rest of the Job is still validated (kubernetes-validate stops at the first error).
    """
    if Version(kube_version) >= Version(ON_POD_CONDITIONS_OPTIONAL):
        return
    for job_spec in _job_specs(obj):
        policy = job_spec.get("podFailurePolicy")
        rules = policy.get("rules") if isinstance(policy, dict) else None
        for rule in rules if isinstance(rules, list) else []:
            if isinstance(rule, dict) and "onExitCodes" in rule:
                rule.setdefault("onPodConditions", [])


def _builtin_errors(obj: Doc, where: str, kube_version: str) -> list[str]:
    _apply_schema_errata(obj, kube_version)
    try:
        kubernetes_validate.validate(obj, kube_version, strict=True)
    except ValidationError as error:
        return [f"{where}: {json_path(error.absolute_path)}: {error.message} (Kubernetes {error.version}, strict)"]
    return []


def _metadata_errors(obj: Doc, where: str, kube_version: str) -> list[str]:
    """A custom resource's ``metadata`` against ``ObjectMeta`` (checked on a ConfigMap that carries it)."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return []  # the CRD schema says metadata must be an object
    return _builtin_errors({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}, where, kube_version)


def _custom_errors(obj: Doc, where: str, custom: CustomKind, kube_version: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(custom.schema)
    errors = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
    found = [f"{where}: {json_path(e.absolute_path)}: {e.message} (CRD {custom.source.name}, strict)" for e in errors]
    return found + _metadata_errors(obj, where, kube_version)


def validate_object(obj: Mapping[str, Any], kube_version: str = KUBE_VERSION) -> list[str]:
    """Why the API server of ``kube_version`` would reject ``obj`` (one line per problem); ``[]`` if valid.

    A built-in kind reports its first problem only (``kubernetes-validate`` stops there); a custom
    resource reports all of them.
    """
    doc = copy.deepcopy(dict(obj))
    where = object_name(doc)
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version or not kind:
        return [
            f"{where}: apiVersion and kind must be non-empty strings (got {api_version!r}, {kind!r}); "
            "every Kubernetes object names both"
        ]
    custom = custom_kinds().get((api_version, kind))
    if custom is not None:
        return _custom_errors(doc, where, custom, kube_version)
    if kube_version not in schema_versions():
        return [
            f"{where}: kubernetes-validate ships no schemas for Kubernetes {kube_version} (got "
            f"{', '.join(schema_versions())}); validate against one of them, e.g. {KUBE_VERSION}"
        ]
    try:
        return _builtin_errors(doc, where, kube_version)
    except SchemaNotFoundError:
        return [
            f"{where}: no schema for {kind} in {api_version} (got Kubernetes {kube_version}'s built-in kinds and "
            f"the CRDs {', '.join(path.name for path in CRD_FILES)}); fix apiVersion/kind or vendor its CRD "
            "under tests/deploy/crds/"
        ]


__all__ = [
    "CRD_FILES",
    "KUBE_VERSION",
    "OLDEST_KUBERNETES",
    "VENDORED_CRDS",
    "CustomKind",
    "crd_kinds",
    "custom_kinds",
    "json_path",
    "object_name",
    "schema_versions",
    "validate_object",
]
