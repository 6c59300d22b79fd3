"""``python -m ensemw2s.operator``: run the operator (in a pod, or locally against a kubeconfig).

Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 1 when it cannot start (no cluster credentials,
the metrics port taken: one ``Error: ...`` line), 2 on a usage error.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence

import kopf

from .handlers import Reconciler, register
from .k8s import ClientConfigError, ClusterApi, load_client_configuration
from .metrics import MetricsServer, OperatorMetrics
from .settings import OperatorConfig, kopf_settings, parse_args


class StartupError(Exception):
    """The operator cannot start (e.g. its metrics port is taken)."""


async def run(
    config: OperatorConfig,
    *,
    stop_flag: asyncio.Event | None = None,
    ready_flag: asyncio.Event | None = None,
) -> None:
    """Run until stopped: the metrics server beside Kopf, both on this event loop."""
    api = ClusterApi(load_client_configuration(config.kubeconfig, config.context), workers=config.api_workers)
    metrics = OperatorMetrics()
    registry = kopf.OperatorRegistry()
    register(registry, config, Reconciler(api, metrics, stage_defaults=config.stage_defaults))
    ready = ready_flag if ready_flag is not None else asyncio.Event()
    server = MetricsServer(metrics, ready=ready.is_set)
    if config.metrics_port:
        try:
            await server.start(config.metrics_host, config.metrics_port)
        except OSError as exc:
            api.close()
            raise StartupError(
                f"--metrics-port {config.metrics_port}: cannot listen on {config.metrics_host} "
                f"(got {exc.strerror or exc}); choose a free port, or 0 to disable metrics"
            ) from None
    try:
        await kopf.operator(
            registry=registry,
            settings=kopf_settings(config),
            standalone=config.standalone,
            peering_name=config.peering,
            priority=config.priority,
            clusterwide=config.all_namespaces,
            namespaces=config.namespaces,
            liveness_endpoint=config.liveness,
            stop_flag=stop_flag,
            ready_flag=ready,
        )
    finally:
        await server.stop()
        api.close()


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    kopf.configure(verbose=config.verbose, log_prefix=True)
    if not config.verbose:
        # Kopf logs every handler call at INFO ("Handler ... succeeded"): one line per Job event.
        # The reconciler logs what matters (the plan's events); Kopf's warnings and errors stay.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    try:
        asyncio.run(run(config))
    except (ClientConfigError, StartupError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
