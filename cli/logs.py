"""``w2sctl logs NAME --stage S [-f] [--all-ranks]``: the log of a stage's pod.

The pods are found by the labels the operator puts on every stage pod (:mod:`ensemw2s.operator.naming`:
experiment and stage). A stage whose Job was retried has one pod per attempt: the newest is shown. A
multi-node stage (an Indexed Job) has one pod per rank (its completion index): rank 0 by default, every
rank with ``--all-ranks``, each line prefixed ``[rank N]``. When no pod is left (the Job was deleted
after ``ttlSecondsAfterFinished``), the last log lines the operator kept in the status are shown instead.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer
from ensemw2s.spec import problem

from .errors import CliError
from .state import State

if TYPE_CHECKING:
    from .kube import Cluster


def rank_of(pod: Mapping[str, Any]) -> int:
    """The pod's completion index (its rank's node) in an Indexed Job; 0 for a plain Job."""
    from ensemw2s.operator.naming import ANNOTATION_COMPLETION_INDEX

    meta = pod.get("metadata") or {}
    value = (meta.get("annotations") or {}).get(ANNOTATION_COMPLETION_INDEX) or (meta.get("labels") or {}).get(
        ANNOTATION_COMPLETION_INDEX
    )
    text = str(value or "")
    return int(text) if text.isdigit() else 0


def newest_per_rank(pods: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The newest pod (last attempt) of each rank; ``pods`` come oldest first."""
    chosen: dict[int, dict[str, Any]] = {}
    for pod in pods:
        chosen[rank_of(pod)] = pod
    return dict(sorted(chosen.items()))


def logs(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Experiment name.", show_default=False)],
    stage: Annotated[str, typer.Option("--stage", "-s", help="The stage, e.g. weak-s1-r3.", show_default=False)],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Stream the log until the stage ends.")] = False,
    all_ranks: Annotated[bool, typer.Option("--all-ranks", help="Every rank of a multi-node stage.")] = False,
) -> None:
    """Print the log of a stage's pod (its newest attempt; rank 0 unless --all-ranks)."""
    from ensemw2s.operator.jobs import CONTAINER

    from .experiments import read_view, stages_hint
    from .kube import connect

    state: State = ctx.obj
    with connect(state) as cluster:
        view = read_view(cluster, name, state)
        graph = view.graph()
        if graph is not None and stage not in graph.names():
            raise CliError(str(problem("--stage", f"must name a stage of {name}", stage, stages_hint(graph))))
        pods = newest_per_rank(cluster.stage_pods(name, stage))
        if not all_ranks:
            pods = {rank: pod for rank, pod in pods.items() if rank == 0}
        if not pods:
            entry = next((e for e in view.status.stages if e.name == stage), None)
            phase = view.stage_phase(stage)
            if entry is not None and entry.message:
                state.warn(f"{name} {stage}: no pod left (phase {phase}); its last log lines, kept in the status:")
                print(entry.message)
                return
            raise CliError(
                f"{view.namespace}/{name} stage {stage}: no pod (got phase {phase}); "
                + ("it has not started yet" if phase == "Waiting" else "its Job was removed, and with it the logs")
            )
        prefixed = len(pods) > 1
        if follow:
            _follow(cluster, pods, CONTAINER, prefixed)
            return
        for rank, pod in pods.items():
            text = cluster.pod_log(pod["metadata"]["name"], CONTAINER)
            for line in text.splitlines():
                print(f"[rank {rank}] {line}" if prefixed else line)


def _follow(cluster: Cluster, pods: Mapping[int, Mapping[str, Any]], container: str, prefixed: bool) -> None:
    """Stream every pod's log at once (one thread per rank), line by line, until all end."""
    lock = threading.Lock()
    errors: list[BaseException] = []

    def stream(rank: int, pod: str) -> None:
        try:
            for line in cluster.follow_pod_log(pod, container):
                with lock:
                    print(f"[rank {rank}] {line}" if prefixed else line, flush=True)
        except BaseException as exc:  # reported once all streams end
            errors.append(exc)

    threads = [
        threading.Thread(target=stream, args=(rank, pod["metadata"]["name"]), daemon=True) for rank, pod in pods.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sys.stdout.flush()
    if errors:
        raise errors[0]


def register(app: typer.Typer) -> None:
    app.command()(logs)
