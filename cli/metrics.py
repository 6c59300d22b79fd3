"""``w2sctl metrics serve``: experiments as Prometheus metrics (names in :mod:`.experiment_metrics`).

From the cluster (``-n NS`` or ``-A``) the exporter lists the experiments at every scrape and reads their
typed status; with ``--store ROOT`` it reads local runs' artifact stores instead. ``w2sctl run
--metrics-port N`` serves the same live during a run, with the trainer's training metrics beside it
(:func:`serve_run_metrics`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from ensemw2s.spec import ExperimentManifest

from .errors import CliError
from .state import State

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

DEFAULT_PORT = 9109

metrics_app = typer.Typer(
    name="metrics",
    help="Prometheus metrics of experiments: phases, stage durations, rounds, eps/alpha, accuracies, PGRs.",
    no_args_is_help=True,
)


class Server:
    """``/metrics`` over a private registry of ``collectors``, on a daemon thread."""

    def __init__(self, collectors: Iterable[Collector], port: int, host: str, option: str = "--port") -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        self.registry = CollectorRegistry()
        for collector in collectors:
            self.registry.register(collector)
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise CliError(
                f"{option} {port}: cannot listen on {host} (got {exc.strerror or exc}); "
                "choose a free port, or 0 for any free one"
            ) from None
        self.port = int(self._server.server_address[1])
        self.host = host

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@metrics_app.command("serve")
def serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port of /metrics (0: any free one).")] = (
        DEFAULT_PORT
    ),
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "0.0.0.0",
    store: Annotated[
        str | None,
        typer.Option("--store", help="Export the local runs under this artifact store root instead of the cluster."),
    ] = None,
) -> None:
    """Serve experiments as Prometheus metrics on /metrics until interrupted (Ctrl-C).

    From the cluster: the experiments of the namespace (-n, else the context's) or of all (-A), listed at every scrape.

    With --store: every local run under ROOT."""
    from .experiment_metrics import ExperimentCollector, cluster_reader, store_reader

    state: State = ctx.obj
    if store is not None:
        state.note_unused_cluster_options("metrics serve --store")
        collector = ExperimentCollector("store", store_reader(store))
        what = f"local runs under {store}"
    else:
        from .kube import connect

        cluster = connect(state)
        every = state.all_namespaces
        collector = ExperimentCollector("cluster", cluster_reader(lambda: cluster.list_experiments(every)))
        what = "experiments in " + ("all namespaces" if every else f"namespace {cluster.namespace}")
    server = Server([collector], port, host)
    state.err.print(f"serving {what} on {server.url} (Ctrl-C stops)", soft_wrap=True, highlight=False)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


@contextmanager
def serve_run_metrics(manifest: ExperimentManifest, root: str, port: int, state: State) -> Iterator[Any]:
    """While a local run runs: its experiment (from its store) and its live training metrics on ``port``.

    Yields the :class:`~ensemw2s.trainer.metrics.LiveTraining` the run's progress sink must feed
    (:class:`~ensemw2s.trainer.metrics.RecordingProgress`)."""
    from ensemw2s.trainer.metrics import LiveTraining, TrainingCollector, recording

    from .experiment_metrics import ExperimentCollector, store_reader

    live = LiveTraining()
    only = [(manifest.namespace or "default", manifest.name)]
    collectors: list[Collector] = [ExperimentCollector("store", store_reader(root, only)), TrainingCollector(live)]
    server = Server(collectors, port, "0.0.0.0", "--metrics-port")
    state.err.print(f"metrics: {server.url}", soft_wrap=True, highlight=False)
    try:
        with recording(live):
            yield live
    finally:
        server.close()


def register(app: typer.Typer) -> None:
    app.add_typer(metrics_app)


__all__ = ["DEFAULT_PORT", "Server", "metrics_app", "register", "serve", "serve_run_metrics"]
