"""Stage outputs defend themselves: checksums in stage.json, typed records, clear errors, redo on demand."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import fsspec
import numpy as np
import pytest
from ensemw2s.spec import ExperimentManifest, SpecError, Stage, StageKind, StageSummary, StrongVariant
from ensemw2s.trainer.errors import exit_code
from ensemw2s.trainer.progress import SilentProgress
from ensemw2s.trainer.runner import run_experiment
from ensemw2s.trainer.stages.records import RoundRecord
from ensemw2s.trainer.stages.run import DamagedInput, run_stage
from ensemw2s.trainer.store import DamagedArtifact, ExperimentStore, StageRecord

WEAK_R0 = Stage(StageKind.WEAK, 1, round=0)
KEY = "0123abcd"


class RecordingProgress(SilentProgress):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def log(self, message: str) -> None:
        self.lines.append(message)


@pytest.fixture
def copied(finished: tuple[ExperimentManifest, Path], tmp_path: Path) -> tuple[ExperimentManifest, Path]:
    """A private copy of the finished tiny experiment's store, free to damage."""
    manifest, store = finished
    shutil.copytree(store, tmp_path / "store")
    return manifest, tmp_path / "store"


def only_file(root: Path, pattern: str) -> Path:
    found = list(root.rglob(pattern))
    assert len(found) == 1, found
    return found[0]


def published(store: ExperimentStore, files: dict[str, bytes], stage: Stage = WEAK_R0) -> None:
    """Publish a stage whose outputs are ``files`` (checksummed as they are, damaged or not)."""
    with store.workspace(stage, KEY) as workspace:
        for name, data in files.items():
            workspace.write_bytes(name, data)
        store.publish(stage, KEY, workspace, StageSummary(stage=stage.name, key=KEY, seconds=0.0))


def output(store: ExperimentStore, stage: Stage = WEAK_R0):  # type: ignore[no-untyped-def]
    found = store.output(stage, KEY)
    assert found is not None
    return found


def npz(**arrays: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


# -- the completion record ---------------------------------------------------------------------------


def test_stage_json_holds_the_digest_of_every_output(tmp_path: Path) -> None:
    store = ExperimentStore(str(tmp_path), "default", "x")
    published(store, {"a.json": b"{}", "preds.npz": npz(val=np.ones(2))})
    record = StageRecord.model_validate_json(only_file(tmp_path, "stage.json").read_text())
    assert set(record.files) == {"a.json", "preds.npz"}
    assert record.files["a.json"].size == 2
    assert record.files["a.json"].sha256 == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    assert store.finished(WEAK_R0, KEY) == record.summary


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[:-10]), r"size does not match the stage's record \(got \d+ bytes"),
        (lambda p: p.write_bytes(b"X" + p.read_bytes()[1:]), r"SHA-256 does not match the stage's record"),
        (lambda p: p.unlink(), r"missing"),
    ],
    ids=["truncated", "same-size", "deleted"],
)
def test_a_damaged_output_is_named_with_its_path(tmp_path: Path, damage, problem) -> None:  # type: ignore[no-untyped-def]
    store = ExperimentStore(str(tmp_path), "default", "x")
    published(store, {"preds.npz": npz(val=np.ones(4))})
    path = only_file(tmp_path, "preds.npz")
    damage(path)
    fresh = ExperimentStore(str(tmp_path), "default", "x")  # nothing verified yet
    with pytest.raises(DamagedArtifact, match=rf"^{tmp_path}/default/x/s1/weak/r0/{KEY}/preds.npz: {problem}"):
        fresh.finished(WEAK_R0, KEY)
    with pytest.raises(DamagedArtifact, match=problem):
        output(ExperimentStore(str(tmp_path), "default", "x")).read_arrays("preds.npz")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"{", r"stage.json: not valid JSON \(EOF while parsing"),
        (
            b'{"summary": {"stage": "weak-s1-r0", "key": "0123abcd", "seconds": 0}, "files": {"a": {"size": -1, '
            b'"sha256": "00"}}}',
            r"stage.json: files.a.size: ",
        ),
        (
            b'{"summary": {"stage": "weak-s1-r1", "key": "0123abcd", "seconds": 0}, "files": {}}',
            r"records stage weak-s1-r1 with key 0123abcd \(expected weak-s1-r0",
        ),
    ],
    ids=["not-json", "bad-field", "another-stage"],
)
def test_a_damaged_stage_json_names_the_file_and_field(tmp_path: Path, content: bytes, problem: str) -> None:
    store = ExperimentStore(str(tmp_path), "default", "x")
    published(store, {"a.json": b"{}"})
    only_file(tmp_path, "stage.json").write_bytes(content)
    with pytest.raises(DamagedArtifact, match=problem) as caught:
        ExperimentStore(str(tmp_path), "default", "x").finished(WEAK_R0, KEY)
    assert caught.value.stage == "weak-s1-r0"


def test_a_record_that_does_not_validate_names_the_field(tmp_path: Path) -> None:
    store = ExperimentStore(str(tmp_path), "default", "x")
    published(store, {"round.json": json.dumps({"round": 0, "active": True, "learner": None}).encode()})
    with pytest.raises(
        DamagedArtifact, match=r"round.json: learner: required when the round is active \(got none\); redo the round"
    ):
        output(store).read_model("round.json", RoundRecord)


@pytest.mark.parametrize(
    "content",
    [b"", b"not a zip file", npz(val=np.ones(100))[:-40]],
    ids=["empty", "garbage", "truncated"],
)
def test_an_unreadable_npz_is_a_damaged_artifact_not_a_zip_error(tmp_path: Path, content: bytes) -> None:
    store = ExperimentStore(str(tmp_path), "default", "x")
    published(store, {"preds.npz": content})  # the digest matches: the file was written damaged
    with pytest.raises(DamagedArtifact, match=r"preds.npz: not a readable .npz archive \(") as caught:
        output(store).read_arrays("preds.npz")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_an_npz_without_the_arrays_a_stage_needs(tmp_path: Path) -> None:
    store = ExperimentStore(str(tmp_path), "default", "x")
    published(store, {"preds.npz": npz(val=np.ones(2))})
    with pytest.raises(DamagedArtifact, match=r"preds.npz: lacks the arrays hard_test \(holds val\)"):
        output(store).read_arrays("preds.npz", "val", "hard_test")


def test_an_unlisted_file_is_not_trusted(tmp_path: Path) -> None:
    store = ExperimentStore(str(tmp_path), "default", "x")
    published(store, {"a.json": b"{}"})
    with pytest.raises(DamagedArtifact, match=r"extra.npz: not listed in stage.json \(lists a.json\)"):
        output(store).read_bytes("extra.npz")


def test_object_stores_check_sizes_when_skipping_and_content_when_reading() -> None:
    fs = fsspec.filesystem("memory")
    store = ExperimentStore("memory://w2s-damage", "default", "x")
    published(store, {"preds.npz": npz(val=np.ones(4))})
    path = f"/w2s-damage/default/x/s1/weak/r0/{KEY}/preds.npz"
    data = fs.cat_file(path)
    fs.pipe_file(path, b"X" + data[1:])  # same size: hashing it would mean downloading every file
    assert ExperimentStore("memory://w2s-damage", "default", "x").finished(WEAK_R0, KEY) is not None
    with pytest.raises(DamagedArtifact, match=r"preds.npz: SHA-256 does not match"):
        output(ExperimentStore("memory://w2s-damage", "default", "x")).read_arrays("preds.npz")
    fs.pipe_file(path, data[:-1])
    with pytest.raises(DamagedArtifact, match=r"preds.npz: size does not match"):
        ExperimentStore("memory://w2s-damage", "default", "x").finished(WEAK_R0, KEY)
    fs.rm("/w2s-damage", recursive=True)


# -- the pipeline ------------------------------------------------------------------------------------


def test_a_damaged_stage_is_redone_even_when_later_stages_are_done(
    copied: tuple[ExperimentManifest, Path],
) -> None:
    manifest, store = copied
    preds = only_file(store, "weak/r0/*/preds.npz")
    original = preds.read_bytes()
    preds.write_bytes(original[: len(original) // 2])
    progress = RecordingProgress()
    run = run_experiment(manifest, str(store), progress)
    redone = [name for name, summary in run.summaries.items() if not summary.skipped]
    assert redone == ["weak-s1-r0"], "the damaged stage is redone; the rest is intact and reused"
    assert any(str(preds) in line and "size does not match" in line for line in progress.lines), progress.lines
    assert preds.read_bytes() == original, "the redone stage reproduced its output"


def test_a_damaged_input_fails_the_stage_naming_what_to_redo(copied: tuple[ExperimentManifest, Path]) -> None:
    manifest, store = copied
    preds = only_file(store, "weak/r0/*/preds.npz")
    preds.write_bytes(preds.read_bytes()[:-1])
    stage = Stage(StageKind.STRONG, 1, variant=StrongVariant.W2S)
    with pytest.raises(DamagedInput) as caught:
        run_stage(manifest, stage, str(store), SilentProgress(), redo=True)
    message = str(caught.value)
    assert message.startswith(f"stage strong-s1-w2s: its input weak-s1-r0 is damaged: {preds}: size does not match")
    assert "w2sctl run FILE --redo weak-s1-r0" in message and "ensemw2s.io/redo=weak-s1-r0" in message
    assert int(exit_code(caught.value)) == 2, "retrying the reader cannot repair its input"


AGGREGATE = Stage(StageKind.AGGREGATE, 1)


@pytest.mark.parametrize("rank", ["0", "1"])
def test_an_input_found_damaged_while_the_stage_reads_it_fails_every_rank_alike(
    copied: tuple[ExperimentManifest, Path], rank: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an object store only sizes are checked before the stage runs: a same-size damage is found when
    the stage reads the file, and a helper rank (torchrun, RANK > 0) reports it as rank 0 does."""
    manifest, local = copied
    fs = fsspec.filesystem("memory")
    root = f"/w2s-rank-{rank}"
    for file in (f for f in local.rglob("*") if f.is_file()):
        fs.pipe_file(f"{root}/{file.relative_to(local).as_posix()}", file.read_bytes())
    [preds] = fs.glob(f"{root}/default/tiny/s1/weak/r0/*/preds.npz")
    data = fs.cat_file(preds)
    fs.pipe_file(preds, b"X" + data[1:])
    monkeypatch.setenv("RANK", rank)
    try:
        with pytest.raises(DamagedInput) as caught:
            run_stage(manifest, AGGREGATE, f"memory://{root}", SilentProgress(), redo=True)
    finally:
        fs.rm(root, recursive=True)
    assert str(caught.value).startswith(
        f"stage aggregate-s1: its input weak-s1-r0 is damaged: memory://{preds}: SHA-256 does not match"
    )
    assert int(exit_code(caught.value)) == 2


@pytest.mark.parametrize(("rank", "redone_by_this_rank"), [("0", True), ("1", False)])
def test_only_the_publishing_rank_reports_and_discards_a_damaged_output(
    copied: tuple[ExperimentManifest, Path], rank: str, redone_by_this_rank: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every rank finds the damage (each checks before running); rank 0 alone says so and redoes it."""
    manifest, store = copied
    ensemble = only_file(store, "aggregate/*/ensemble.npz")
    damaged = ensemble.read_bytes()[:-1]
    ensemble.write_bytes(damaged)
    monkeypatch.setenv("RANK", rank)
    progress = RecordingProgress()
    assert not run_stage(manifest, AGGREGATE, str(store), progress).skipped
    warnings = [line for line in progress.lines if line.endswith("its output is damaged, redoing the stage")]
    assert len(warnings) == int(redone_by_this_rank), progress.lines
    assert (ensemble.read_bytes() == damaged) is not redone_by_this_rank, "rank 0 alone discards and republishes"


def test_redo_reruns_the_stage_and_everything_downstream_to_the_same_results(
    copied: tuple[ExperimentManifest, Path],
) -> None:
    manifest, store = copied
    results = (store / "default/tiny/results.json").read_bytes()
    round_file = only_file(store, "weak/r1/*/round.json")
    round_file.unlink()  # gone with the redo anyway; shows it is written again
    run = run_experiment(manifest, str(store), SilentProgress(), redo=[Stage.parse("weak-s1-r1")])
    redone = {name for name, summary in run.summaries.items() if not summary.skipped}
    assert redone == {"weak-s1-r1", "weak-s1-r2", "aggregate-s1", "strong-s1-ensemble", "report"}
    assert round_file.is_file()
    assert (store / "default/tiny/results.json").read_bytes() == results, "redone stages are deterministic"


def test_stages_that_read_a_changed_output_are_redone(copied: tuple[ExperimentManifest, Path]) -> None:
    """A redo that does not reproduce its bytes (a GPU) makes the stages that read the old output stale."""
    from ensemw2s.trainer.files import FileDigest
    from ensemw2s.trainer.store import npz_bytes

    manifest, store = copied
    ensemble = only_file(store, "aggregate/*/ensemble.npz")
    arrays = dict(np.load(ensemble))
    changed = npz_bytes({name: np.roll(array, 1, axis=0) for name, array in arrays.items()})
    ensemble.write_bytes(changed)
    stage_json = ensemble.with_name("stage.json")
    record = StageRecord.model_validate_json(stage_json.read_text())
    files = {**record.files, "ensemble.npz": FileDigest.of_bytes(changed)}
    stage_json.write_text(record.model_copy(update={"files": files}).model_dump_json(by_alias=True))
    progress = RecordingProgress()
    run = run_experiment(manifest, str(store), progress)
    redone = {name for name, summary in run.summaries.items() if not summary.skipped}
    assert redone == {"strong-s1-ensemble", "report"}, "aggregate is intact; what read it is stale"
    assert "[strong-s1-ensemble] its input aggregate-s1 changed since it ran (it was redone), redoing the stage" in (
        progress.lines
    )


def test_redo_of_a_stage_outside_the_graph_is_refused(tiny_manifest: ExperimentManifest, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"redo: must name stages of this experiment \(got 'weak-s1-r9'\); stages: "):
        run_experiment(tiny_manifest, str(tmp_path), SilentProgress(), redo=[Stage.parse("weak-s1-r9")])
    assert not list(tmp_path.rglob("stage.json")), "nothing ran"


# -- shared stores, cloud stores ---------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o022, 0o002])
def test_published_files_are_readable_by_the_group(tmp_path: Path, mask: int) -> None:
    import os

    previous = os.umask(mask)
    try:
        store = ExperimentStore(str(tmp_path), "default", "x")
        published(store, {"round.json": b"{}", "preds.npz": npz(val=np.ones(2))})
        store.write_bytes("report.md", b"# report")
    finally:
        os.umask(previous)
    for name in ("round.json", "preds.npz", "stage.json", "report.md"):
        assert only_file(tmp_path, name).stat().st_mode & 0o777 == 0o666 & ~mask, name


@pytest.mark.parametrize(
    ("url", "extra"), [("s3://bucket/runs", "s3"), ("gs://bucket/runs", "gcs"), ("az://c/runs", "az")]
)
def test_a_cloud_store_without_its_package_names_the_extra(url: str, extra: str) -> None:
    import importlib.util

    from ensemw2s.trainer.errors import StoreError
    from ensemw2s.trainer.store import EXTRA_PACKAGES

    package = EXTRA_PACKAGES[extra]
    if importlib.util.find_spec(package) is not None:
        pytest.skip(f"{package} is installed here")
    with pytest.raises(
        StoreError, match=rf"needs {package}, which is not installed; pip install 'ensemw2s\[{extra}\]'"
    ):
        ExperimentStore(url, "default", "x")


def test_every_cloud_extra_is_offered_by_the_package() -> None:
    import tomllib

    from ensemw2s.trainer.store import EXTRA_PACKAGES, PROTOCOL_EXTRAS

    pyproject = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    assert set(PROTOCOL_EXTRAS.values()) == set(EXTRA_PACKAGES)
    for extra, package in EXTRA_PACKAGES.items():
        assert any(requirement.startswith(package) for requirement in extras[extra]), (extra, extras.get(extra))
