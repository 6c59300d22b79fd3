"""Experiment manifests: the YAML a user writes (apiVersion/kind/metadata/spec), parsed once.

Pydantic's validation errors become :class:`SpecError` problems with the project's formula and the
field path as the user wrote it (``spec.dataset.sizes.hardTrain``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from .base import SpecModel
from .cluster_limits import DNS_LABEL, DNS_LABEL_MAX
from .errors import Problem, SpecError, problem
from .experiment import ExperimentSpec

API_GROUP = "ensemw2s.io"
API_VERSION = "v1alpha1"
KIND = "EnsemW2SExperiment"
PLURAL = "ensemw2sexperiments"
SHORT_NAMES = ("w2sx",)


class Metadata(SpecModel):
    name: str = Field(min_length=1, max_length=DNS_LABEL_MAX)
    namespace: str = Field("default", min_length=1, max_length=DNS_LABEL_MAX)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("name", "namespace")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        if not DNS_LABEL.match(value):
            raise ValueError("must be a DNS label: lowercase letters, digits and '-', starting and ending alphanumeric")
        return value


class ExperimentManifest(SpecModel):
    """An ``EnsemW2SExperiment`` as written in a file (the custom resource minus its status)."""

    api_version: str = Field(f"{API_GROUP}/{API_VERSION}")
    kind: str = Field(KIND)
    metadata: Metadata
    spec: ExperimentSpec

    @field_validator("api_version")
    @classmethod
    def _api_version(cls, value: str) -> str:
        if value != f"{API_GROUP}/{API_VERSION}":
            raise ValueError(f"must be {API_GROUP}/{API_VERSION}")
        return value

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value != KIND:
            raise ValueError(f"must be {KIND}")
        return value

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace


_RULES: dict[str, str] = {
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "missing": "required field is missing",
    "extra_forbidden": "unknown field",
    "enum": "must be one of {expected}",
    "literal_error": "must be one of {expected}",
    "string_pattern_mismatch": "must match {pattern}",
    "string_too_short": "must have at least {min_length} characters",
    "string_too_long": "must have at most {max_length} characters",
    "too_short": "must have at least {min_length} items",
    "too_long": "must have at most {max_length} items",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_parsing": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "float_type": "must be a number",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "list_type": "must be a list",
}


_MOVED_FIELDS: dict[tuple[str, ...], str] = {
    ("baselines", "w2sLabels"): (
        "replaced by spec.strong.pseudoLabels (soft or hard), which applies to both students so that the "
        "comparison is fair; move the value there"
    ),
}
"""Fields that were replaced: the fix names the replacement."""


def _moved_field_fix(loc: tuple[str, ...]) -> str:
    return next((fix for moved, fix in _MOVED_FIELDS.items() if loc[-len(moved) :] == moved), "")


def _path(prefix: str, loc: tuple[int | str, ...]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def problem_from_pydantic(error: ErrorDetails, prefix: str = "") -> Problem:
    """One pydantic error in the project's formula."""
    ctx = dict(error.get("ctx") or {})
    template = _RULES.get(error["type"])
    if template is not None:
        try:
            rule = template.format(**ctx)
        except KeyError:
            rule = template
    else:
        rule = str(ctx.get("error") or error["msg"])
        rule = rule[0].lower() + rule[1:] if rule else rule
    value = None if error["type"] in {"missing", "extra_forbidden"} else error.get("input")
    if isinstance(value, dict | list):
        value = None
    fix = _moved_field_fix(tuple(str(part) for part in error["loc"])) if error["type"] == "extra_forbidden" else ""
    return problem(_path(prefix, error["loc"]), rule, value, fix)


def spec_error_from_validation(exc: ValidationError, prefix: str = "") -> SpecError:
    return SpecError([problem_from_pydantic(e, prefix) for e in exc.errors()])


def parse_spec(data: Any, prefix: str = "spec") -> ExperimentSpec:
    """Parse a ``spec`` mapping (as in a custom resource) into the typed model."""
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise spec_error_from_validation(exc, prefix) from None


def parse_manifest(data: Any, source: str = "") -> ExperimentManifest:
    """Parse a whole manifest mapping."""
    if not isinstance(data, dict):
        where = source or "manifest"
        raise SpecError(
            problem(
                where,
                "must be a mapping with apiVersion, kind, metadata and spec",
                "an empty document" if data is None else f"a {type(data).__name__}",
            )
        )
    kind = data.get("kind")
    if kind is not None and kind != KIND:
        raise SpecError(problem("kind", f"must be {KIND}", kind, "this document is not an experiment"))
    try:
        return ExperimentManifest.model_validate(data)
    except ValidationError as exc:
        raise spec_error_from_validation(exc) from None


def load_manifest(path: str | Path) -> ExperimentManifest:
    """Read an experiment YAML file (one document) into the typed manifest."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(problem(str(file), "file not found", fix="check the path")) from None
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise SpecError(problem(str(file), f"is not valid YAML: {exc}".replace("\n", " "))) from None
    if len(documents) > 1:
        # A multi-document file (e.g. a PVC next to the experiment): the experiment is the one of our kind.
        ours = [doc for doc in documents if isinstance(doc, dict) and doc.get("kind") == KIND]
        if len(ours) != 1:
            kinds = ", ".join(
                str(doc.get("kind")) if isinstance(doc, dict) else type(doc).__name__ for doc in documents
            )
            raise SpecError(problem(str(file), f"must hold exactly one {KIND} document", f"{len(ours)} among {kinds}"))
        documents = ours
    return parse_manifest(documents[0] if documents else None, str(file))


def dump_manifest(manifest: ExperimentManifest) -> str:
    return yaml.safe_dump(manifest.to_json_dict(), sort_keys=False)
