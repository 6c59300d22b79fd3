"""``w2sctl validate``: every check that can run before training, without a cluster or a GPU.

Three layers, each reported in the project's formula (``<field or file:line>: <rule> (got <value>); <fix>``):

1. the spec's schema and semantic checks (the same ones the operator runs);
2. here (default): the data and model files a local run reads (:mod:`ensemw2s.trainer.preflight`, which
   a run repeats before its first stage); torch is never imported;
3. ``--cluster``: what the API server and the operator would refuse instead (shared storage, object
   sizes, label and name rules, the Job names derived from the experiment). Paths then name files in the
   stage pods, so the local files are not read; the prepare stage checks them there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from ensemw2s.spec import (
    ExperimentManifest,
    Problem,
    Severity,
    Target,
    build_stage_graph,
    load_manifest,
    parse_manifest,
    problem,
)
from ensemw2s.spec import semantic_problems as spec_problems
from ensemw2s.spec.cluster_limits import is_dns_label, label_value_problem, manifest_object_problems

from .errors import CliError
from .state import State


def validate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Experiment YAML.", exists=False)],
    cluster: Annotated[
        bool,
        typer.Option(
            "--cluster",
            help="Check for a cluster instead: storage, object sizes, names and labels (local files are not read).",
        ),
    ] = False,
) -> None:
    """Check an experiment before it runs: the spec, its data and model files, or (--cluster) the API's limits."""
    state: State = ctx.obj
    state.note_unused_cluster_options("validate")
    manifest = in_namespace(load_manifest(file), file, state.namespace)
    check(state, file, manifest, cluster=cluster)
    print(f"{file}: valid ({manifest.namespace}/{manifest.name})")


def in_namespace(manifest: ExperimentManifest, file: Path, namespace: str | None) -> ExperimentManifest:
    """The manifest in ``-n``'s namespace; an error when the file names another one (as kubectl does)."""
    if namespace is None or namespace == manifest.namespace:
        return manifest
    if _names_namespace(file):
        raise CliError(
            f"{file}: metadata.namespace does not match -n (got {manifest.namespace!r}, -n {namespace!r}); "
            "drop one of them or make them equal"
        )
    data = manifest.to_json_dict()
    return parse_manifest({**data, "metadata": {**data["metadata"], "namespace": namespace}}, f"{file} (with -n)")


def _names_namespace(file: Path) -> bool:
    import yaml
    from ensemw2s.spec import KIND

    documents = [d for d in yaml.safe_load_all(file.read_text(encoding="utf-8")) if isinstance(d, dict)]
    ours = [d for d in documents if d.get("kind") == KIND] or documents
    return bool(ours and (ours[0].get("metadata") or {}).get("namespace"))


def check(state: State, file: Path, manifest: ExperimentManifest, *, cluster: bool) -> None:
    """Print every problem (``validate``'s checks) on stderr; CliError when any is an error."""
    found = validation_problems(manifest, cluster=cluster)
    for item in found:
        state.err.print(f"{item.severity.value}: {item}", markup=False, highlight=False, soft_wrap=True)
    errors = [p for p in found if p.severity is Severity.ERROR]
    if errors:
        raise CliError(f"{file}: {len(errors)} error(s)")


def validation_problems(manifest: ExperimentManifest, *, cluster: bool) -> list[Problem]:
    """Every problem ``w2sctl validate`` reports, in order: spec, then files (local) or the cluster's limits."""
    found = spec_problems(manifest.spec, Target.CLUSTER if cluster else Target.LOCAL)
    if cluster:
        return found + manifest_object_problems(manifest) + derived_name_problems(manifest)
    return found + _local_file_problems(manifest)


def derived_name_problems(manifest: ExperimentManifest) -> list[Problem]:
    """The operator's Job names and labels for every stage, as it will build them, checked against the API's rules."""
    from ensemw2s.operator.naming import job_name, service_name, stage_labels

    found: list[Problem] = []
    for stage in build_stage_graph(manifest.spec).stages:
        for kind, name in (("Job", job_name(manifest.name, stage)), ("Service", service_name(manifest.name, stage))):
            if not is_dns_label(name):
                found.append(
                    problem("metadata.name", f"gives the {kind} name {name!r}, not a DNS label", manifest.name)
                )
        for key, value in stage_labels(manifest.name, stage).items():
            label = label_value_problem(f"metadata.name (label {key} of stage {stage.name})", value)
            if label is not None:
                found.append(label)
    return found


def _local_file_problems(manifest: ExperimentManifest) -> list[Problem]:
    try:
        from ensemw2s.trainer.preflight import preflight
    except ImportError as error:
        return [
            problem(
                "spec",
                f"data and model files not checked: the trainer is not installed ({error})",
                fix="pip install 'ensemw2s[train]' to check them here; a run checks them before its first stage",
                warning=True,
            )
        ]
    return preflight(manifest.spec)


def register(app: typer.Typer) -> None:
    app.command()(validate)
