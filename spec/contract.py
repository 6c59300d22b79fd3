"""The one contract between the operator and the trainer: stage -> container command + environment.

The operator calls :func:`stage_command` and :func:`stage_environment` to build a Job; the trainer's
``python -m ensemw2s.trainer`` reads them back with :func:`parse_stage_argv` and
:func:`invocation_from_environment`. ``tests/spec/test_contract.py`` round-trips them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .errors import SpecError, problem
from .graph import Stage, StageKind, StrongVariant
from .manifest import ExperimentManifest, parse_manifest

TRAINER_MODULE = "ensemw2s.trainer"
ENV_MANIFEST = "W2S_MANIFEST_JSON"
ENV_STORE = "W2S_STORE"
ENV_TERMINATION_LOG = "W2S_TERMINATION_LOG"
ENV_RANK_HINT = "W2S_NODES"
DEFAULT_TERMINATION_LOG = "/dev/termination-log"
TERMINATION_MESSAGE_LIMIT = 4096


@dataclass(frozen=True)
class StageInvocation:
    """What one stage process needs: which stage, of which experiment, over which store."""

    stage: Stage
    manifest: ExperimentManifest
    store: str
    termination_log: str | None = None


def stage_argv(stage: Stage) -> list[str]:
    """The trainer CLI arguments for one stage, e.g. ``["weak", "--seed", "42", "--round", "0"]``."""
    argv = [stage.kind.value]
    if stage.seed is not None:
        argv += ["--seed", str(stage.seed)]
    if stage.round is not None:
        argv += ["--round", str(stage.round)]
    if stage.variant is not None:
        argv += ["--variant", stage.variant.value]
    return argv


def stage_command(stage: Stage, python: str = "python", nodes: int = 1, processes_per_node: int = 1) -> list[str]:
    """The container command. Across several nodes (an Indexed Job), ``torchrun`` starts the same module on
    every pod and rendezvouses through the environment the operator sets (``$(VAR)`` is expanded by the
    kubelet, no shell needed); the trainer publishes from rank 0 only.
    """
    if nodes <= 1 and processes_per_node <= 1:
        return [python, "-m", TRAINER_MODULE, *stage_argv(stage)]
    return [
        "torchrun",
        f"--nnodes={nodes}",
        "--node_rank=$(NODE_RANK)",
        f"--nproc_per_node={max(processes_per_node, 1)}",
        "--master_addr=$(MASTER_ADDR)",
        "--master_port=$(MASTER_PORT)",
        "-m",
        TRAINER_MODULE,
        *stage_argv(stage),
    ]


CLEAN_COMMAND = "clean"


def cleanup_command(python: str = "python") -> list[str]:
    """The container command that deletes an experiment's artifacts (``runPolicy.deleteArtifacts``)."""
    return [python, "-m", TRAINER_MODULE, CLEAN_COMMAND]


def stage_environment(invocation: StageInvocation) -> dict[str, str]:
    env = {
        ENV_MANIFEST: json.dumps(invocation.manifest.to_json_dict(), separators=(",", ":"), sort_keys=True),
        ENV_STORE: invocation.store,
    }
    if invocation.termination_log:
        env[ENV_TERMINATION_LOG] = invocation.termination_log
    return env


def stage_from_parts(kind: str, seed: int | None, round_: int | None, variant: str | None) -> Stage:
    try:
        return Stage(
            StageKind(kind),
            seed,
            round_ if kind == StageKind.WEAK else None,
            StrongVariant(variant) if variant is not None else None,
        )
    except ValueError as exc:
        raise SpecError(problem("stage", str(exc), kind)) from None


def parse_stage_argv(argv: Sequence[str]) -> Stage:
    """Inverse of :func:`stage_argv` (the trainer's own argparse accepts the same flags)."""
    if not argv:
        raise SpecError(problem("stage", "missing", fix=f"one of {', '.join(k.value for k in StageKind)}"))
    kind, rest = argv[0], list(argv[1:])
    values: dict[str, str] = {}
    while rest:
        flag = rest.pop(0)
        if not flag.startswith("--") or not rest:
            raise SpecError(problem("stage arguments", "expected --flag value pairs", " ".join(argv)))
        values[flag[2:]] = rest.pop(0)
    seed = int(values["seed"]) if "seed" in values else None
    round_ = int(values["round"]) if "round" in values else None
    return stage_from_parts(kind, seed, round_, values.get("variant"))


def invocation_from_environment(stage: Stage, environ: Mapping[str, str]) -> StageInvocation:
    """Read a stage's invocation back from the environment the operator set."""
    if ENV_MANIFEST not in environ or ENV_STORE not in environ:
        raise SpecError(
            problem("environment", f"{ENV_MANIFEST} and {ENV_STORE} must be set", fix="pass --spec and --store")
        )
    try:
        data = json.loads(environ[ENV_MANIFEST])
    except json.JSONDecodeError as exc:
        raise SpecError(problem(ENV_MANIFEST, f"is not valid JSON: {exc}")) from None
    return StageInvocation(
        stage, parse_manifest(data, ENV_MANIFEST), environ[ENV_STORE], environ.get(ENV_TERMINATION_LOG)
    )
