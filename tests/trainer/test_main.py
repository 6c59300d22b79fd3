"""``python -m ensemw2s.trainer``: its invocation comes from the contract, its exit code says whether to retry."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ensemw2s.spec import ExitCode, FieldError, SpecError
from ensemw2s.trainer.__main__ import main
from ensemw2s.trainer.data.errors import DatasetError
from ensemw2s.trainer.errors import MissingInput, StageFailed, StoreError, TrainerError, exit_code, is_permanent
from ensemw2s.trainer.method.errors import MethodError
from ensemw2s.trainer.models.errors import ModelError
from ensemw2s.trainer.training.errors import TrainingError


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean working directory and no stage-contract environment: what a user's shell has."""
    for name in [n for n in os.environ if n.startswith("W2S_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_spec(folder: Path, data: dict[str, object], **spec: object) -> Path:
    data = copy.deepcopy(data)
    data["spec"] = {**data["spec"], **spec}  # type: ignore[dict-item]
    path = folder / "experiment.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("Error: "), err
    return err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train"], "Error: command: unknown command (got 'train'); use one of prepare, weak,"),
        (["weak", "--seed", "1"], "Error: --round: required for a weak stage; add --round VALUE"),
        (["weak", "--seed", "1", "--round", "0", "--rounds", "3"], "Error: weak arguments: unknown argument"),
        (["all", "--redo", "weak-1"], "Error: --redo: stage name: not a stage of the graph"),
    ],
)
def test_a_bad_command_line_is_one_error_line_and_permanent(local, capsys, argv, message) -> None:  # type: ignore[no-untyped-def]
    assert main(argv) == ExitCode.PERMANENT
    assert error_line(capsys).startswith(message)


def test_a_bad_spec_is_permanent(local, capsys, tiny_data) -> None:  # type: ignore[no-untyped-def]
    weak = {**tiny_data["spec"]["weak"], "rounds": True}
    path = write_spec(local, tiny_data, weak=weak)
    assert main(["prepare", "--seed", "1", "--spec", str(path)]) == ExitCode.PERMANENT
    assert "spec.weak.rounds" in error_line(capsys)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["prepare", "--seed", "7"], "Error: stage: not a stage of experiment tiny (got 'prepare-s7'); use one of"),
        (["weak", "--seed", "1", "--round", "3"], "Error: stage: not a stage of experiment tiny (got 'weak-s1-r3')"),
        (["all", "--redo", "weak-s1-r9"], "Error: --redo: not a stage of experiment tiny (got 'weak-s1-r9')"),
    ],
)
def test_a_stage_outside_the_experiment_is_permanent(local, capsys, tiny_file, argv, message) -> None:  # type: ignore[no-untyped-def]
    assert main([*argv, "--spec", str(tiny_file), "--store", str(local / "store")]) == ExitCode.PERMANENT
    assert error_line(capsys).startswith(message)


def test_a_missing_dataset_file_is_permanent_and_named(local, capsys, tiny_data) -> None:  # type: ignore[no-untyped-def]
    missing = local / "nowhere" / "items.jsonl"
    dataset = {**tiny_data["spec"]["dataset"], "name": "local", "source": str(missing)}
    path = write_spec(local, tiny_data, dataset=dataset)
    assert main(["prepare", "--seed", "1", "--spec", str(path), "--store", str(local / "store")]) == ExitCode.PERMANENT
    assert str(missing) in error_line(capsys)


def test_help_exits_ok(local, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--help"]) == ExitCode.OK
    assert "Exit codes" in capsys.readouterr().out


def test_the_module_exits_with_the_contract_code(tmp_path: Path) -> None:
    """The process itself (what a Job's podFailurePolicy sees), not just main()'s return value."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("W2S_")}
    env["W2S_MANIFEST_JSON"] = json.dumps({"kind": "EnsemW2SExperiment"})
    env["W2S_STORE"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "ensemw2s.trainer", "report"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == ExitCode.PERMANENT
    assert done.stderr.startswith("Error: metadata: required field is missing")


class _Unmarked(ValueError):
    pass


def _wrapped(cause: BaseException) -> StageFailed:
    try:
        raise StageFailed("prepare-s1", str(cause)) from cause
    except StageFailed as exc:
        return exc


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (DatasetError("spec.dataset.source: no such file"), True),
        (ModelError("spec.weak.model", "not found"), True),
        (TrainingError("spec.weak.training.batchSize", "too large"), True),
        (MethodError("weights: must sum to 1"), True),
        (FieldError("x", "bad"), True),
        (SpecError([]), True),
        (StoreError("disk full"), False),
        (TrainerError("?"), False),
        (MissingInput("weak-s1-r1", "needs weak-s1-r0"), False),
        (StageFailed("prepare-s1", "OSError"), False),
        (_wrapped(DatasetError("bad rows")), True),
        (_wrapped(OSError("connection reset")), False),
        (_wrapped(_wrapped(ModelError("m", "missing"))), True),
        (_Unmarked("a bug"), False),
        (MemoryError(), False),
    ],
)
def test_permanence_follows_the_error_class_and_its_cause(error: BaseException, permanent: bool) -> None:
    assert is_permanent(error) is permanent
    assert exit_code(error) is (ExitCode.PERMANENT if permanent else ExitCode.TRANSIENT)


def test_a_cause_cycle_ends() -> None:
    first, second = StageFailed("a", "x"), StageFailed("b", "y")
    first.__cause__, second.__cause__ = second, first
    assert not is_permanent(first)


@pytest.mark.parametrize("redo", [False, True])
def test_a_stage_is_redone_only_when_the_invocation_says_so(
    local: Path,
    capsys: pytest.CaptureFixture[str],
    finished: tuple[object, Path],
    tiny_file: Path,
    redo: bool,
) -> None:
    import shutil

    store = local / "store"
    shutil.copytree(finished[1], store)
    argv = ["aggregate", "--seed", "1", "--spec", str(tiny_file), "--store", str(store)]
    assert main([*argv, "--redo"] if redo else argv) == ExitCode.OK
    summary = json.loads(capsys.readouterr().out)
    assert (summary["stage"], summary["skipped"]) == ("aggregate-s1", not redo)
