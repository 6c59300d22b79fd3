"""The experiment verbs on a cluster: submit, list, get, status, results, suspend, resume, retry, delete.

Each verb reads or writes the ``EnsemW2SExperiment`` through :mod:`.kube` and returns rows to the one
output sink. Writes: ``submit`` is a server-side apply (field manager ``w2sctl``) of the file as written,
after ``validate --cluster``'s checks; the others are JSON merge patches of exactly the fields they
change (a partial *apply* would drop the fields ``submit`` applied). ``status`` and ``results`` also
read a local run from its store (``--store``), through the same views.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from ensemw2s.spec import KIND, StageGraph, load_manifest, problem

from .errors import CliError
from .output import OutputFormat
from .state import State

if TYPE_CHECKING:
    from .experiment import ExperimentView
    from .kube import Cluster

Name = Annotated[str, typer.Argument(help="Experiment name.", show_default=False)]
STORE_HELP = "Read a local run from this artifact store root (a directory or an fsspec URL) instead of a cluster."


def _connect(state: State, file_namespace: str | None = None) -> Cluster:
    from .kube import connect

    return connect(state, file_namespace)


def read_view(cluster: Cluster, name: str, state: State) -> ExperimentView:
    """The experiment, typed; a warning line when the operator seems not to be running."""
    from .experiment import ExperimentView

    view = ExperimentView.from_body(cluster.get_experiment(name))
    lag = view.operator_lag()
    if lag is not None:
        state.warn(lag)
    return view


# -- submit --------------------------------------------------------------------------------------


def submit(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Experiment YAML.")],
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Follow it to the end: exit 0 on success, 3 if it fails.")
    ] = False,
    force_conflicts: Annotated[
        bool, typer.Option("--force-conflicts", help="Take over fields another field manager owns.")
    ] = False,
    timeout: Annotated[
        str | None, typer.Option("--timeout", help="With --watch: give up after this long (30m, 2h, 90s).")
    ] = None,
) -> None:
    """Create or update an experiment on the cluster (server-side apply), checked as `validate --cluster` does."""
    import yaml

    from .validate import check, in_namespace

    state: State = ctx.obj
    manifest = in_namespace(load_manifest(file), file, state.namespace)
    check(state, file, manifest, cluster=True)
    documents = [d for d in yaml.safe_load_all(file.read_text(encoding="utf-8")) if isinstance(d, dict)]
    body = next((d for d in documents if d.get("kind") == KIND), documents[0])
    explicit = (body.get("metadata") or {}).get("namespace")
    with _connect(state, explicit) as cluster:
        body = {**body, "metadata": {**body["metadata"], "namespace": cluster.namespace}}
        applied = cluster.apply_experiment(body, force=force_conflicts)
        state.done(manifest.name, "serverside-applied", applied if not watch else None)
        if watch:
            from .wait import finished, follow, outcome_of, parse_duration

            view = follow(cluster, manifest.name, state, finished, parse_duration(timeout) if timeout else None)
            outcome_of(view, state)


# -- reading -------------------------------------------------------------------------------------


def list_(ctx: typer.Context) -> None:
    """List experiments: phase, current stage, round, PGR, age (-A: every namespace)."""
    from .experiment import ExperimentView
    from .status_view import list_rows

    state: State = ctx.obj
    with _connect(state) as cluster:
        views = [ExperimentView.from_body(b) for b in cluster.list_experiments(state.all_namespaces)]
    if not views and state.output in (OutputFormat.TABLE, OutputFormat.WIDE):
        where = "any namespace" if state.all_namespaces else f"namespace {cluster.namespace}"
        state.err.print(f"No experiments found in {where}.", highlight=False)
        return
    state.emit(list_rows(views, all_namespaces=state.all_namespaces))


def get(ctx: typer.Context, name: Name) -> None:
    """One experiment's full stage tree: every stage by seed, its phase, attempts, duration and reason."""
    from .status_view import tree_rows

    state: State = ctx.obj
    with _connect(state) as cluster:
        view = read_view(cluster, name, state)
    state.emit(tree_rows(view))


def status(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Argument(help="Experiment name or YAML file; none: every experiment.", show_default=False),
    ] = None,
    store: Annotated[str | None, typer.Option("--store", help=STORE_HELP)] = None,
) -> None:
    """Phase, stages, round and results so far: of an experiment on the cluster, or (--store) of a local run.

    Without a name: every experiment of the namespace (-A: of all). A local run may be finished, running
    or killed; its stages are read from the store's completion records and partial folders.
    """
    from .status_view import list_rows, status_rows

    state: State = ctx.obj
    if store is not None:
        if target is None:
            raise typer.BadParameter("name the run (its YAML file or its name) with --store", param_hint="TARGET")
        state.note_unused_cluster_options("status --store")
        from .local_status import local_view

        state.emit(status_rows(local_view(target, store, state.namespace)))
        return
    with _connect(state) as cluster:
        if target is None:
            from .experiment import ExperimentView

            views = [ExperimentView.from_body(b) for b in cluster.list_experiments(state.all_namespaces)]
            rows = list_rows(views, all_namespaces=state.all_namespaces)
            state.emit(rows)
            return
        view = read_view(cluster, _name_of(target), state)
    state.emit(status_rows(view))


def _name_of(target: str) -> str:
    """A name, or the name in a YAML file (``status exp.yaml`` works as ``status exp``)."""
    if target.endswith((".yaml", ".yml")) and Path(target).is_file():
        return load_manifest(target).name
    return target


def results(
    ctx: typer.Context,
    name: Name,
    store: Annotated[str | None, typer.Option("--store", help=STORE_HELP)] = None,
) -> None:
    """The report table, as `w2sctl run` prints it (-o json: the results model)."""
    from .results_view import results_rows

    state: State = ctx.obj
    if store is not None:
        from .local_status import local_view

        view = local_view(name, store, state.namespace)
    else:
        with _connect(state) as cluster:
            view = read_view(cluster, _name_of(name), state)
    if view.status.results is None:
        raise CliError(
            f"{view.namespace}/{view.name}: no results yet (phase {view.status.phase.value}, round "
            f"{view.status.round or '-'}); `w2sctl wait {view.name} --for succeeded` waits for the report"
        )
    state.emit(results_rows(view.status.results))


# -- writing -------------------------------------------------------------------------------------


def _set_suspend(ctx: typer.Context, name: str, suspend: bool) -> None:
    state: State = ctx.obj
    with _connect(state) as cluster:
        body = cluster.patch_experiment(name, {"spec": {"runPolicy": {"suspend": suspend}}})
    state.done(name, "suspended" if suspend else "resumed", body)


def suspend(ctx: typer.Context, name: Name) -> None:
    """Suspend an experiment (spec.runPolicy.suspend=true): running stages stop, no new ones start."""
    _set_suspend(ctx, name, True)


def resume(ctx: typer.Context, name: Name) -> None:
    """Resume a suspended experiment (spec.runPolicy.suspend=false)."""
    _set_suspend(ctx, name, False)


def retry(
    ctx: typer.Context,
    name: Name,
    stage: Annotated[
        list[str] | None,
        typer.Option(
            "--stage",
            "-s",
            metavar="STAGE",
            help="Redo this stage (e.g. weak-s1-r1), finished or not, and every stage downstream. Repeatable.",
        ),
    ] = None,
) -> None:
    """Rerun the failed stages (annotation ensemw2s.io/retry), or with --stage redo stages (ensemw2s.io/redo)."""
    from ensemw2s.operator.naming import ANNOTATION_REDO, ANNOTATION_RETRY
    from ensemw2s.operator.redo import STAGE_SEPARATOR, TOKEN_SEPARATOR, redo_message, redo_request

    state: State = ctx.obj
    token = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    with _connect(state) as cluster:
        view = read_view(cluster, name, state)
        if stage:
            graph = view.graph()
            if graph is None:
                raise CliError(f"{view.namespace}/{name}: the spec does not parse, so no stage can be redone")
            value = f"{STAGE_SEPARATOR.join(stage)}{TOKEN_SEPARATOR}{token}"
            request = redo_request(value, graph)
            if request.refusal is not None:
                unknown = [s for s in stage if s not in graph.names()]
                raise CliError(
                    str(problem("--stage", f"must name stages of {name}", ", ".join(unknown), stages_hint(graph)))
                )
            body = cluster.patch_experiment(name, {"metadata": {"annotations": {ANNOTATION_REDO: value}}})
            state.done(name, redo_message(request), body)
            return
        if not view.status.failed_stages:
            raise CliError(
                f"{view.namespace}/{name}: nothing to retry: no stage failed (got phase {view.status.phase.value}); "
                f"`w2sctl retry {name} --stage STAGE` runs a stage again"
            )
        body = cluster.patch_experiment(name, {"metadata": {"annotations": {ANNOTATION_RETRY: token}}})
    state.done(name, f"retrying {', '.join(view.status.failed_stages)} ({ANNOTATION_RETRY}={token})", body)


def stages_hint(graph: StageGraph) -> str:
    return f"its stages: {', '.join(graph.names())}"


def delete(
    ctx: typer.Context,
    name: Name,
    artifacts: Annotated[
        bool,
        typer.Option("--artifacts", help="Delete its artifacts too (sets spec.runPolicy.deleteArtifacts first)."),
    ] = False,
) -> None:
    """Delete an experiment and its Jobs (--artifacts: and its stored outputs, by the operator's cleanup Job)."""
    state: State = ctx.obj
    with _connect(state) as cluster:
        if artifacts:
            cluster.patch_experiment(name, {"spec": {"runPolicy": {"deleteArtifacts": True}}})
        cluster.delete_experiment(name)
    state.done(name, "deleted" + (" (the operator's cleanup Job deletes its artifacts)" if artifacts else ""))


def register(app: typer.Typer) -> None:
    app.command()(submit)
    app.command("list")(list_)
    app.command()(get)
    app.command()(status)
    app.command()(results)
    app.command()(suspend)
    app.command()(resume)
    app.command()(retry)
    app.command()(delete)
