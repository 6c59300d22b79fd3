"""The Helm chart's values as typed models, and the ``values.schema.json`` generated from them.

``charts/ensemw2s/values.yaml`` holds the defaults (with the comments a user reads); these models hold the
types, so the models have no defaults of their own: Helm merges a user's values over ``values.yaml``
before it checks the schema, so every key is present. The schema goes through the CRD's converters
(:func:`ensemw2s.operator.crd.structural_schema`, then :func:`~ensemw2s.operator.crd.validation_schema`), so
it has no ``$ref`` (any Helm's validator reads it) and rejects unknown keys at every level: a typo such as
``experimentDefault`` fails ``helm install`` before anything is applied. ``tests/deploy/test_chart.py``
checks that the checked-in schema is this one and that ``values.yaml`` validates against both. Regenerate::

    cd /tmp && python -c "from ensemw2s.operator.chart_values import main; main()"
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from ensemw2s.operator.crd import structural_schema, validation_schema
from ensemw2s.operator.generated import write_generated
from ensemw2s.spec import Resources
from ensemw2s.spec.base import Integer, SpecEnum, StrictSpecModel
from ensemw2s.spec.cluster_limits import DNS_LABEL, DNS_LABEL_MAX
from pydantic import Field

VALUES_SCHEMA_FILE = Path("charts") / "ensemw2s" / "values.schema.json"
REGENERATE = 'cd /tmp && python -c "from ensemw2s.operator.chart_values import main; main()"'
DURATION_PATTERN = r"^([0-9]+(ms|s|m|h))+$"
"""A Prometheus duration (``30s``, ``1m30s``)."""
DIGEST_PATTERN = r"^(sha256:[a-f0-9]{64})?$"
CIDR_PATTERN = r"^[0-9a-fA-F:.]+/[0-9]{1,3}$"
Name = Annotated[str, Field(pattern=DNS_LABEL.pattern, max_length=DNS_LABEL_MAX)]
Labels = dict[str, str]
FreeForm = dict[str, Any]
"""A Kubernetes object passed through as written (affinity, a toleration, an env var, a network peer)."""


class PullPolicy(SpecEnum):
    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


class LogLevel(SpecEnum):
    INFO = "info"
    DEBUG = "debug"


class Image(StrictSpecModel):
    repository: str = Field(min_length=1)
    tag: str = Field(description='"" is the chart\'s appVersion.')
    digest: str = Field(pattern=DIGEST_PATTERN, description="sha256:...; wins over the tag.")


class OperatorImage(Image):
    pull_policy: PullPolicy


class ExperimentDefaults(StrictSpecModel):
    """Stage pod resources of experiments whose spec sets none (the operator's ``--stage-defaults``)."""

    weak: Resources
    strong: Resources


class Peering(StrictSpecModel):
    enabled: bool
    name: Name


class ServiceAccount(StrictSpecModel):
    create: bool
    name: str = Field(description='"" is <fullname>-operator; required when create is false.')
    annotations: Labels


class Rbac(StrictSpecModel):
    create: bool
    user_roles: bool


class Toggle(StrictSpecModel):
    enabled: bool


class Monitor(StrictSpecModel):
    enabled: bool
    interval: str = Field(pattern=DURATION_PATTERN)
    scrape_timeout: str = Field(pattern=DURATION_PATTERN)
    labels: Labels


class Rule(StrictSpecModel):
    enabled: bool
    labels: Labels


class Dashboard(StrictSpecModel):
    enabled: bool
    labels: Labels
    namespace: str = Field(description='"" is the release namespace.')


class Metrics(StrictSpecModel):
    port: Integer = Field(ge=1, le=65535)
    pod_annotations: bool
    service: Toggle
    service_monitor: Monitor
    pod_monitor: Monitor
    prometheus_rule: Rule
    dashboard: Dashboard


class NetworkPolicy(StrictSpecModel):
    enabled: bool
    api_server_cidrs: list[Annotated[str, Field(pattern=CIDR_PATTERN)]] = Field(alias="apiServerCIDRs")
    api_server_ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(min_length=1)
    metrics_from: list[FreeForm]


class ChartValues(StrictSpecModel):
    """``charts/ensemw2s/values.yaml``, every key."""

    name_override: str
    fullname_override: str
    image: OperatorImage
    image_pull_secrets: list[FreeForm]
    trainer_image: Image
    experiment_defaults: ExperimentDefaults
    watch_namespaces: list[Name] = Field(
        description="Empty: every namespace (a ClusterRole). Names, not globs: each gets a Role."
    )
    log_level: LogLevel
    replicas: Integer = Field(ge=0, le=10, description="More than one needs peering.enabled.")
    peering: Peering
    extra_env: list[FreeForm]
    resources: FreeForm
    node_selector: Labels
    tolerations: list[FreeForm]
    affinity: FreeForm
    priority_class_name: str
    pod_annotations: Labels
    pod_labels: Labels
    service_account: ServiceAccount
    rbac: Rbac
    metrics: Metrics
    network_policy: NetworkPolicy


def values_schema() -> dict[str, Any]:
    """The chart's ``values.schema.json``: strict (no unknown keys), without ``$ref``."""
    structural = structural_schema(ChartValues.model_json_schema(by_alias=True), defaults=False)
    schema = validation_schema(structural, strict=True)
    return {"$schema": "http://json-schema.org/draft-07/schema#", "title": "ensemw2s chart values", **schema}


def render_values_schema() -> str:
    return json.dumps(values_schema(), indent=2) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Write ``charts/ensemw2s/values.schema.json`` (or ``--output``; ``-`` for stdout)."""
    write_generated(render_values_schema, VALUES_SCHEMA_FILE, "Generate the chart's values.schema.json.", argv)


__all__ = ["REGENERATE", "VALUES_SCHEMA_FILE", "ChartValues", "main", "render_values_schema", "values_schema"]
