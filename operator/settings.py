"""The operator's command line and how it becomes Kopf settings.

``python -m ensemw2s.operator [--namespace NS ... | --all-namespaces] [--kubeconfig PATH] [--context C]
[--metrics-port N] [--liveness URL] [--standalone | --peering NAME [--priority N]]
[--reconcile-interval S] [--stage-defaults JSON] [--verbose]``

Every flag has an environment default (``W2S_*``), so a Deployment can configure the operator
either way; flags win. See docs/operator.md for the reasoning behind each Kopf setting.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import kopf

from .naming import MANAGER
from .stage_defaults import BUILT_IN_DEFAULTS, StageDefaults, StageDefaultsError, parse_stage_defaults

KOPF_PREFIX = "kopf.ensemw2s.io"
"""Annotation prefix of Kopf's own bookkeeping (progress and the diff-base): never the user's ``ensemw2s.io/``."""
DIFFBASE_KEY = "last-handled-configuration"
FINALIZER = "ensemw2s.io/operator"
DEFAULT_METRICS_PORT = 8080
DEFAULT_LIVENESS = "http://0.0.0.0:8081/healthz"
DEFAULT_RECONCILE_INTERVAL = 15.0
DEFAULT_API_WORKERS = 16
PRIORITY_RANGE = (1, 1_000_000)
STAGE_DEFAULTS_ENV = "W2S_STAGE_DEFAULTS"


@dataclass(frozen=True)
class OperatorConfig:
    """Everything the command line decides; nothing here talks to a cluster."""

    namespaces: tuple[str, ...] = ()
    all_namespaces: bool = False
    kubeconfig: str | None = None
    context: str | None = None
    metrics_host: str = "0.0.0.0"
    metrics_port: int = DEFAULT_METRICS_PORT
    liveness: str | None = DEFAULT_LIVENESS
    peering: str | None = None
    priority: int = 0
    reconcile_interval: float = DEFAULT_RECONCILE_INTERVAL
    api_workers: int = DEFAULT_API_WORKERS
    stage_defaults: StageDefaults = BUILT_IN_DEFAULTS
    verbose: bool = False

    @property
    def standalone(self) -> bool:
        return self.peering is None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--reconcile-interval: must be a number of seconds (got {text!r}); e.g. 15"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"--reconcile-interval: must be > 0 (got {text}); e.g. 15")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--metrics-port: must be an integer (got {text!r}); 0 disables") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"--metrics-port: must be in 0..65535 (got {value}); 0 disables")
    return value


def build_parser(environ: Mapping[str, str] = os.environ) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ensemw2s.operator",
        description="Reconcile EnsemW2SExperiment resources into one Job per stage.",
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        dest="namespaces",
        action="append",
        default=None,
        metavar="NS",
        help="watch this namespace (repeatable; globs allowed); env W2S_NAMESPACES=ns1,ns2",
    )
    scope.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        default=None,
        help="watch every namespace (ClusterRole needed); env W2S_NAMESPACES='*'",
    )
    parser.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig path (default: in-cluster, else $KUBECONFIG or ~/.kube/config, as Kopf logs in)",
    )
    parser.add_argument("--context", default=environ.get("W2S_KUBE_CONTEXT") or None, help="kubeconfig context")
    parser.add_argument(
        "--metrics-port",
        type=_port,
        default=environ.get("W2S_METRICS_PORT", str(DEFAULT_METRICS_PORT)),
        help=f"port of /metrics and /readyz (default {DEFAULT_METRICS_PORT}; 0 disables)",
    )
    parser.add_argument("--metrics-host", default=environ.get("W2S_METRICS_HOST", "0.0.0.0"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--liveness",
        default=environ.get("W2S_LIVENESS", DEFAULT_LIVENESS),
        metavar="URL",
        help=f"Kopf's liveness endpoint (default {DEFAULT_LIVENESS}; '' disables)",
    )
    peering = parser.add_mutually_exclusive_group()
    peering.add_argument("--standalone", action="store_true", help="no peering: exactly one replica (the default)")
    peering.add_argument(
        "--peering",
        default=environ.get("W2S_PEERING") or None,
        metavar="NAME",
        help="peer with other replicas via the Kopf peering object NAME (hot standby; see docs/operator.md)",
    )
    parser.add_argument(
        "--priority",
        type=int,
        default=environ.get("W2S_PRIORITY") or None,
        help="peering priority (default with --peering: random, so two replicas never tie)",
    )
    parser.add_argument(
        "--reconcile-interval",
        type=_seconds,
        default=environ.get("W2S_RECONCILE_INTERVAL", str(DEFAULT_RECONCILE_INTERVAL)),
        metavar="S",
        help=f"seconds between periodic reconciliations of an unfinished experiment (default {DEFAULT_RECONCILE_INTERVAL:g})",
    )
    parser.add_argument(
        "--stage-defaults",
        default=None,
        metavar="JSON",
        help="JSON: the trainer image and stage pod resources of what a spec leaves out "
        f"(default {BUILT_IN_DEFAULTS.model_dump_json(by_alias=True)}); env {STAGE_DEFAULTS_ENV}",
    )
    parser.add_argument(
        "--api-workers",
        type=int,
        default=environ.get("W2S_API_WORKERS", str(DEFAULT_API_WORKERS)),
        help=argparse.SUPPRESS,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def parse_args(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> OperatorConfig:
    """Parse the command line (exit 2 with one ``error:`` line on a usage error)."""
    parser = build_parser(environ)
    args = parser.parse_args(argv)
    namespaces: tuple[str, ...] = tuple(args.namespaces or ())
    all_namespaces = bool(args.all_namespaces)
    if not namespaces and not all_namespaces:
        from_env = [part.strip() for part in environ.get("W2S_NAMESPACES", "").split(",") if part.strip()]
        all_namespaces = from_env == ["*"]
        namespaces = () if all_namespaces else tuple(from_env)
    if not namespaces and not all_namespaces:
        parser.error("--namespace or --all-namespaces: one is required (got neither); e.g. --namespace default")
    if args.standalone and args.peering:
        parser.error("--standalone and --peering: choose one (got both)")
    peering = None if args.standalone else args.peering
    priority = int(args.priority) if args.priority is not None else 0
    if peering is not None and args.priority is None:
        priority = random.randint(*PRIORITY_RANGE)
    if args.api_workers < 1:
        parser.error(f"--api-workers: must be >= 1 (got {args.api_workers})")
    stage_defaults = BUILT_IN_DEFAULTS
    defaults_text, where = args.stage_defaults, "--stage-defaults"
    if defaults_text is None:
        defaults_text, where = environ.get(STAGE_DEFAULTS_ENV, "").strip() or None, STAGE_DEFAULTS_ENV
    if defaults_text is not None:
        try:
            stage_defaults = parse_stage_defaults(defaults_text, where)
        except StageDefaultsError as exc:
            parser.error(str(exc))
    return OperatorConfig(
        namespaces=namespaces,
        all_namespaces=all_namespaces,
        kubeconfig=args.kubeconfig,
        context=args.context,
        metrics_host=args.metrics_host,
        metrics_port=args.metrics_port,
        liveness=args.liveness or None,
        peering=peering,
        priority=priority,
        reconcile_interval=float(args.reconcile_interval),
        api_workers=args.api_workers,
        stage_defaults=stage_defaults,
        verbose=args.verbose,
    )


def kopf_settings(config: OperatorConfig) -> kopf.OperatorSettings:
    """Kopf settings for this operator (the choices are explained in docs/operator.md)."""
    settings = kopf.OperatorSettings()
    # One finalizer per experiment, added by Kopf because the operator has an on.delete handler
    # (deletion.delete_artifacts: with runPolicy.deleteArtifacts the cleanup Job must end before the
    # experiment goes) and a timer (stopped before the object goes). Stage Jobs and Services need none:
    # they carry ownerReferences and the garbage collector deletes them. Named after the project so
    # `kubectl get -o yaml` says whose it is (docs/operator.md, "Deletion").
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=KOPF_PREFIX, key=DIFFBASE_KEY)
    settings.posting.reporting_component = MANAGER
    settings.posting.event_name_prefix = "ensemw2s-"
    settings.posting.level = logging.INFO
    settings.peering.standalone = config.standalone
    settings.peering.mandatory = not config.standalone
    settings.peering.clusterwide = config.all_namespaces
    settings.peering.priority = config.priority
    if config.peering is not None:
        settings.peering.name = config.peering
    settings.peering.stealth = True
    # Re-list and re-watch now and then: a dropped watch can lose nothing for longer than this.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 60
    settings.networking.connect_timeout = 10
    return settings


__all__ = ["FINALIZER", "KOPF_PREFIX", "OperatorConfig", "build_parser", "kopf_settings", "parse_args"]
