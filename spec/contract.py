"""The one contract between the operator and the trainer: stage -> container command + environment.

The operator calls :func:`stage_command` and :func:`stage_environment` to build a Job; the trainer's
``python -m ensemw2s.trainer`` reads them back with :func:`decode_invocation` (the command line with
:func:`parse_trainer_argv`, the experiment from the environment). ``tests/spec/test_contract.py``
round-trips them. How the process ends is part of the contract too: :class:`ExitCode`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from .errors import SpecError, problem
from .graph import Stage, StageKind, StrongVariant, build_stage_graph
from .manifest import ExperimentManifest, load_manifest, parse_manifest

TRAINER_MODULE = "ensemw2s.trainer"
ENV_MANIFEST = "W2S_MANIFEST_JSON"
ENV_STORE = "W2S_STORE"
ENV_TERMINATION_LOG = "W2S_TERMINATION_LOG"
ENV_RANK_HINT = "W2S_NODES"
ENV_TRAINER_METRICS_PORT = "W2S_TRAINER_METRICS_PORT"
"""The port a stage pod's rank 0 serves live training metrics on (unset or 0: none)."""
TRAINER_METRICS_PORT = 9110
"""The port the operator gives training stages (container port ``metrics``; the PodMonitor scrapes it)."""
DEFAULT_TERMINATION_LOG = "/dev/termination-log"
DEFAULT_LOCAL_STORE = "runs"
TERMINATION_MESSAGE_LIMIT = 4096
"""Bytes a container's termination message may hold (Kubernetes truncates longer ones)."""

ALL_COMMAND = "all"
CLEAN_COMMAND = "clean"
REDO_FLAG = "--redo"

ANNOTATION_RETRY = "ensemw2s.io/retry"
"""On an experiment: set to a new value (e.g. a timestamp) to rerun its failed stages."""
ANNOTATION_REDO = "ensemw2s.io/redo"
"""On an experiment: set to stage names (``weak-s1-r1`` or ``weak-s1-r1,strong-s1-w2s``) to redo them and
what depends on them (the cluster's ``--redo``); the trainer's errors name it in their fix."""


class ExitCode(IntEnum):
    """How a trainer process ends; the stage Job's ``podFailurePolicy`` reads it."""

    OK = 0
    """Done, or already done."""
    TRANSIENT = 1
    """May succeed on retry: I/O, out of memory, a lost node, a bug. The Job retries (``backoffLimit``)."""
    PERMANENT = 2
    """Retrying cannot help: a bad spec, bad arguments, bad data, a missing model. The Job fails at once."""


@dataclass(frozen=True)
class StageInvocation:
    """What one stage process needs: which stage, of which experiment, over which store; ``redo`` discards
    the stage's finished output and runs it again."""

    stage: Stage
    manifest: ExperimentManifest
    store: str
    termination_log: str | None = None
    redo: bool = False


@dataclass(frozen=True)
class TrainerArguments:
    """A ``python -m ensemw2s.trainer`` command line, decoded by :func:`parse_trainer_argv`.

    ``command`` is a stage kind, :data:`ALL_COMMAND` or :data:`CLEAN_COMMAND`; ``stage`` is set for a stage
    command. ``redo`` names the stages to redo: the stage itself after a bare ``--redo``, or the stages
    ``all --redo NAME`` names (with everything downstream of them). ``spec``/``store`` are for local use;
    in a Job both come from the environment.
    """

    command: str
    stage: Stage | None = None
    redo: tuple[Stage, ...] = ()
    spec: str | None = None
    store: str | None = None


@dataclass(frozen=True)
class TrainerInvocation:
    """Everything a trainer process was asked: its command line and the experiment it works on."""

    arguments: TrainerArguments
    manifest: ExperimentManifest
    store: str
    termination_log: str | None = None

    def stage_invocation(self) -> StageInvocation:
        """The stage command's invocation (only for a stage command)."""
        stage = self.arguments.stage
        if stage is None:
            raise SpecError(problem("command", "is not a stage", self.arguments.command, fix=_commands_fix()))
        return StageInvocation(stage, self.manifest, self.store, self.termination_log, stage in self.arguments.redo)


def stage_argv(stage: Stage, redo: bool = False) -> list[str]:
    """The trainer CLI arguments for one stage, e.g. ``["weak", "--seed", "42", "--round", "0"]``."""
    argv = [stage.kind.value]
    if stage.seed is not None:
        argv += ["--seed", str(stage.seed)]
    if stage.round is not None:
        argv += ["--round", str(stage.round)]
    if stage.variant is not None:
        argv += ["--variant", stage.variant.value]
    if redo:
        argv.append(REDO_FLAG)
    return argv


def stage_command(
    stage: Stage, python: str = "python", nodes: int = 1, processes_per_node: int = 1, redo: bool = False
) -> list[str]:
    """The container command. Across several nodes (an Indexed Job), ``torchrun`` starts the same module on
    every pod and rendezvouses through the environment the operator sets (``$(VAR)`` is expanded by the
    kubelet, no shell needed); the trainer publishes from rank 0 only.
    """
    if nodes <= 1 and processes_per_node <= 1:
        return [python, "-m", TRAINER_MODULE, *stage_argv(stage, redo)]
    return [
        "torchrun",
        f"--nnodes={nodes}",
        "--node_rank=$(NODE_RANK)",
        f"--nproc_per_node={max(processes_per_node, 1)}",
        "--master_addr=$(MASTER_ADDR)",
        "--master_port=$(MASTER_PORT)",
        "-m",
        TRAINER_MODULE,
        *stage_argv(stage, redo),
    ]


def cleanup_command(python: str = "python") -> list[str]:
    """The container command that deletes an experiment's artifacts (``runPolicy.deleteArtifacts``)."""
    return [python, "-m", TRAINER_MODULE, CLEAN_COMMAND]


def experiment_environment(
    manifest: ExperimentManifest, store: str, termination_log: str | None = None
) -> dict[str, str]:
    """The environment of every trainer container (stages and ``clean``): the experiment and its store."""
    env = {
        ENV_MANIFEST: json.dumps(manifest.to_json_dict(), separators=(",", ":"), sort_keys=True),
        ENV_STORE: store,
    }
    if termination_log:
        env[ENV_TERMINATION_LOG] = termination_log
    return env


def stage_environment(invocation: StageInvocation) -> dict[str, str]:
    """A stage container's environment (the stage itself is on the command line: :func:`stage_argv`)."""
    return experiment_environment(invocation.manifest, invocation.store, invocation.termination_log)


def stage_from_parts(kind: str, seed: int | None, round_: int | None, variant: str | None) -> Stage:
    """The stage a command line names, each missing or extra flag reported by name."""
    try:
        stage_kind = StageKind(kind)
    except ValueError:
        raise SpecError(problem("command", "unknown command", kind, fix=_commands_fix())) from None
    wanted = {
        "--seed": (stage_kind is not StageKind.REPORT, seed),
        "--round": (stage_kind is StageKind.WEAK, round_),
        "--variant": (stage_kind is StageKind.STRONG, variant),
    }
    for flag, (needed, value) in wanted.items():
        if needed and value is None:
            raise SpecError(problem(flag, f"required for a {kind} stage", fix=f"add {flag} VALUE"))
        if not needed and value is not None:
            raise SpecError(problem(flag, f"not taken by {kind} stages", value, fix=f"drop {flag}"))
    try:
        strong_variant = StrongVariant(variant) if variant is not None else None
    except ValueError:
        raise SpecError(
            problem("--variant", "unknown variant", variant, fix=f"use one of {', '.join(StrongVariant)}")
        ) from None
    return Stage(stage_kind, seed, round_, strong_variant)


def _commands_fix() -> str:
    return f"use one of {', '.join([*(k.value for k in StageKind), ALL_COMMAND, CLEAN_COMMAND])}"


_STAGE_COMMANDS = frozenset(kind.value for kind in StageKind)
_VALUE_FLAGS: dict[str, frozenset[str]] = {
    **{kind.value: frozenset({"seed", "round", "variant", "spec", "store"}) for kind in StageKind},
    ALL_COMMAND: frozenset({"spec", "store", "redo"}),
    CLEAN_COMMAND: frozenset({"spec", "store"}),
}
"""The ``--flag VALUE`` options each command takes; a stage command's ``--redo`` is a bare flag."""


def _integer(flag: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise SpecError(problem(f"--{flag}", "must be an integer", text)) from None


def parse_trainer_argv(argv: Sequence[str]) -> TrainerArguments:
    """Decode ``python -m ensemw2s.trainer`` arguments; inverse of :func:`stage_argv` and :func:`cleanup_command`.

    ``--flag value`` and ``--flag=value`` both work. Raises :class:`SpecError` (exit :attr:`ExitCode.PERMANENT`).
    """
    if not argv:
        raise SpecError(problem("command", "missing", fix=_commands_fix()))
    command, rest = argv[0], list(argv[1:])
    if command not in _VALUE_FLAGS:
        raise SpecError(problem("command", "unknown command", command, fix=_commands_fix()))
    takes_value = _VALUE_FLAGS[command]
    values: dict[str, str] = {}
    redo_names: list[str] = []
    bare_redo = False
    while rest:
        word = rest.pop(0)
        flag, equals, value = word.partition("=")
        name = flag[2:]
        if word == REDO_FLAG and command in _STAGE_COMMANDS:
            bare_redo = True
            continue
        if not flag.startswith("--") or name not in takes_value:
            flags = ", ".join(
                sorted({f"--{f}" for f in takes_value} | ({REDO_FLAG} if command in _STAGE_COMMANDS else set()))
            )
            raise SpecError(problem(f"{command} arguments", "unknown argument", word, fix=f"{command} takes {flags}"))
        if not equals:
            if not rest or rest[0].startswith("--"):
                raise SpecError(problem(flag, "needs a value", fix=f"write {flag} VALUE"))
            value = rest.pop(0)
        if name == "redo":
            redo_names.append(value)
        elif name in values:
            raise SpecError(problem(flag, "given twice", value, fix="give it once"))
        else:
            values[name] = value
    stage: Stage | None = None
    redo: tuple[Stage, ...] = ()
    if command == ALL_COMMAND:
        try:
            redo = tuple(Stage.parse(name) for name in redo_names)
        except ValueError as exc:
            raise SpecError(
                problem(REDO_FLAG, str(exc), fix="name a stage as in the status, e.g. weak-s42-r0")
            ) from None
    elif command != CLEAN_COMMAND:
        seed, round_ = _integer("seed", values.get("seed")), _integer("round", values.get("round"))
        stage = stage_from_parts(command, seed, round_, values.get("variant"))
        redo = (stage,) if bare_redo else ()
    return TrainerArguments(command, stage, redo, values.get("spec"), values.get("store"))


def parse_stage_argv(argv: Sequence[str]) -> Stage:
    """The stage of a stage command line (inverse of :func:`stage_argv`)."""
    stage = parse_trainer_argv(argv).stage
    if stage is None:
        raise SpecError(problem("command", "is not a stage", argv[0], fix=f"use one of {', '.join(StageKind)}"))
    return stage


def invocation_from_environment(stage: Stage, environ: Mapping[str, str], *, redo: bool = False) -> StageInvocation:
    """Read a stage's invocation back from the environment the operator set."""
    manifest, store, termination_log = _experiment_from_environment(environ, None)
    return StageInvocation(stage, manifest, store, termination_log, redo)


def _experiment_from_environment(
    environ: Mapping[str, str], store: str | None
) -> tuple[ExperimentManifest, str, str | None]:
    if ENV_MANIFEST not in environ or (store is None and ENV_STORE not in environ):
        raise SpecError(
            problem("environment", f"{ENV_MANIFEST} and {ENV_STORE} must be set", fix="pass --spec and --store")
        )
    try:
        data = json.loads(environ[ENV_MANIFEST])
    except json.JSONDecodeError as exc:
        raise SpecError(problem(ENV_MANIFEST, f"is not valid JSON: {exc}")) from None
    return parse_manifest(data, ENV_MANIFEST), store or environ[ENV_STORE], environ.get(ENV_TERMINATION_LOG)


def decode_invocation(argv: Sequence[str], environ: Mapping[str, str]) -> TrainerInvocation:
    """What a trainer process was asked, from its command line and environment.

    With ``--spec FILE`` the experiment comes from the file and the store from ``--store``, ``$W2S_STORE`` or
    ``./runs``; without it both come from the environment the operator sets (:func:`stage_environment`).
    """
    arguments = parse_trainer_argv(argv)
    termination_log = environ.get(ENV_TERMINATION_LOG)
    if arguments.spec is not None:
        manifest = load_manifest(arguments.spec)
        store = arguments.store or environ.get(ENV_STORE) or DEFAULT_LOCAL_STORE
    else:
        manifest, store, termination_log = _experiment_from_environment(environ, arguments.store)
    stages = build_stage_graph(manifest.spec).stages
    named = [("stage", arguments.stage)] + [(REDO_FLAG, stage) for stage in arguments.redo]
    for where, stage in named:
        if stage is not None and stage not in stages:
            raise SpecError(
                problem(
                    where,
                    f"not a stage of experiment {manifest.name}",
                    stage.name,
                    fix=f"use one of {', '.join(s.name for s in stages)}",
                )
            )
    return TrainerInvocation(arguments, manifest, store, termination_log)


__all__ = [
    "ALL_COMMAND",
    "ANNOTATION_REDO",
    "ANNOTATION_RETRY",
    "CLEAN_COMMAND",
    "DEFAULT_TERMINATION_LOG",
    "ENV_MANIFEST",
    "ENV_RANK_HINT",
    "ENV_STORE",
    "ENV_TERMINATION_LOG",
    "REDO_FLAG",
    "TERMINATION_MESSAGE_LIMIT",
    "TRAINER_MODULE",
    "ExitCode",
    "StageInvocation",
    "TrainerArguments",
    "TrainerInvocation",
    "cleanup_command",
    "decode_invocation",
    "experiment_environment",
    "invocation_from_environment",
    "parse_stage_argv",
    "parse_trainer_argv",
    "stage_argv",
    "stage_command",
    "stage_environment",
    "stage_from_parts",
]
