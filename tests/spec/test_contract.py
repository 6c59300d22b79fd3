"""The operator/trainer contract: command line, environment and exit codes round-trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from ensemw2s.spec import (
    ENV_MANIFEST,
    ENV_STORE,
    ENV_TERMINATION_LOG,
    ExitCode,
    SpecError,
    Stage,
    StageInvocation,
    StageKind,
    build_stage_graph,
    cleanup_command,
    decode_invocation,
    invocation_from_environment,
    load_manifest,
    parse_stage_argv,
    parse_trainer_argv,
    stage_argv,
    stage_command,
    stage_environment,
)
from ensemw2s.spec.contract import DEFAULT_LOCAL_STORE, TERMINATION_MESSAGE_LIMIT

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"
WEAK = Stage(StageKind.WEAK, 1, round=2)


@pytest.fixture
def manifest():  # type: ignore[no-untyped-def]
    return load_manifest(QUICKSTART)


def test_exit_codes_are_fixed_numbers() -> None:
    """The Job's podFailurePolicy and the trainer agree on these numbers; changing one breaks running clusters."""
    assert [(code.name, int(code)) for code in ExitCode] == [("OK", 0), ("TRANSIENT", 1), ("PERMANENT", 2)]


@pytest.mark.parametrize("redo", [False, True])
@pytest.mark.parametrize("nodes", [1, 3])
def test_contract_round_trip(manifest, redo: bool, nodes: int) -> None:  # type: ignore[no-untyped-def]
    for stage in build_stage_graph(manifest.spec).stages:
        invocation = StageInvocation(stage, manifest, "/artifacts", "/dev/termination-log", redo)
        command = stage_command(stage, nodes=nodes, redo=redo)
        argv = command[command.index("-m") + 2 :]
        assert command[command.index("-m") + 1] == "ensemw2s.trainer"
        env = stage_environment(invocation)
        assert set(env) == {ENV_MANIFEST, ENV_STORE, ENV_TERMINATION_LOG}
        assert decode_invocation(argv, env).stage_invocation() == invocation
        assert invocation_from_environment(parse_stage_argv(argv), env, redo=redo) == invocation


def test_redo_is_a_bare_flag_of_a_stage_command() -> None:
    assert stage_argv(WEAK, redo=True) == ["weak", "--seed", "1", "--round", "2", "--redo"]
    assert parse_trainer_argv(["weak", "--redo", "--seed=1", "--round", "2"]).redo == (WEAK,)
    assert parse_trainer_argv(stage_argv(WEAK)).redo == ()


def test_all_redoes_the_stages_it_names() -> None:
    arguments = parse_trainer_argv(["all", "--redo", "weak-s1-r2", "--redo=prepare-s1", "--spec", "x.yaml"])
    assert arguments.command == "all" and arguments.stage is None and arguments.spec == "x.yaml"
    assert arguments.redo == (WEAK, Stage(StageKind.PREPARE, 1))


def test_clean_is_decoded_without_a_stage(manifest) -> None:  # type: ignore[no-untyped-def]
    env = stage_environment(StageInvocation(Stage(StageKind.REPORT), manifest, "/artifacts"))
    invocation = decode_invocation(cleanup_command()[3:], env)
    assert (invocation.arguments.command, invocation.arguments.stage) == ("clean", None)
    assert (invocation.manifest, invocation.store) == (manifest, "/artifacts")
    with pytest.raises(SpecError, match="command: is not a stage"):
        invocation.stage_invocation()


def test_local_spec_and_store(manifest, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    argv = ["prepare", "--seed", "1", "--spec", str(QUICKSTART)]
    local = decode_invocation(argv, {})
    assert (local.manifest, local.store, local.termination_log) == (manifest, DEFAULT_LOCAL_STORE, None)
    assert decode_invocation([*argv, "--store", str(tmp_path)], {ENV_STORE: "/elsewhere"}).store == str(tmp_path)
    assert decode_invocation(argv, {ENV_STORE: "/elsewhere"}).store == "/elsewhere"
    # --store alone overrides the operator's store; the manifest still comes from the environment.
    env = {ENV_MANIFEST: stage_environment(StageInvocation(WEAK, manifest, "/a"))[ENV_MANIFEST]}
    assert decode_invocation(["report", "--store", "/b"], env).store == "/b"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "command: missing; use one of prepare, weak, aggregate, strong, report, all, clean"),
        (["train"], "command: unknown command (got 'train'); use one of prepare"),
        (["aggregate", "--variant", "w2s", "--seed", "1"], "--variant: not taken by aggregate stages (got 'w2s')"),
        (["prepare"], "--seed: required for a prepare stage; add --seed VALUE"),
        (["weak", "--seed", "1"], "--round: required for a weak stage"),
        (["prepare", "--seed", "1", "--round", "0"], "--round: not taken by prepare stages (got 0); drop --round"),
        (["report", "--seed", "1"], "--seed: not taken by report stages"),
        (["weak", "--seed"], "--seed: needs a value; write --seed VALUE"),
        (["weak", "--seed", "--round", "1"], "--seed: needs a value"),
        (["weak", "--seed", "one", "--round", "0"], "--seed: must be an integer (got 'one')"),
        (["weak", "--seed", "1", "--round", "0", "--seed", "2"], "--seed: given twice (got '2')"),
        (["weak", "--seed", "1", "--round", "0", "extra"], "weak arguments: unknown argument (got 'extra')"),
        (
            ["strong", "--seed", "1", "--variant", "best"],
            "--variant: unknown variant (got 'best'); use one of ceiling, w2s, ensemble",
        ),
        (["clean", "--redo"], "clean arguments: unknown argument (got '--redo'); clean takes --spec, --store"),
        (["all", "--redo"], "--redo: needs a value"),
        (["all", "--redo", "weak-s1"], "--redo: stage name: not a stage of the graph"),
        (["all", "--seed", "1"], "all arguments: unknown argument (got '--seed')"),
    ],
)
def test_bad_command_lines_name_the_argument(argv: list[str], message: str) -> None:
    with pytest.raises(SpecError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        parse_trainer_argv(argv)


def test_parse_stage_argv_needs_a_stage() -> None:
    with pytest.raises(SpecError, match="command: is not a stage"):
        parse_stage_argv(["clean"])


def test_contract_errors() -> None:
    stage = Stage(StageKind.PREPARE, 1)
    with pytest.raises(SpecError, match="must be set; pass --spec and --store"):
        invocation_from_environment(stage, {})
    with pytest.raises(SpecError, match="must be set"):
        decode_invocation(["report"], {ENV_STORE: "/x"})
    with pytest.raises(SpecError, match="is not valid JSON"):
        invocation_from_environment(stage, {ENV_MANIFEST: "{", ENV_STORE: "/x"})


def test_one_termination_message_limit() -> None:
    from ensemw2s.spec import results

    assert TERMINATION_MESSAGE_LIMIT == 4096
    assert results.TERMINATION_MESSAGE_LIMIT is TERMINATION_MESSAGE_LIMIT
