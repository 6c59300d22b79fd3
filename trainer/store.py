"""The artifact store: one root per experiment, on a local disk, a PVC or any fsspec URL.

Layout under ``<root>/<namespace>/<experiment>/``::

    spec.json                       the manifest last run
    s<seed>/prepare/<key>/          examples, labels, token ids
    s<seed>/weak/r<t>/<key>/        learner probabilities, eps, alpha, next weights
    s<seed>/aggregate/<key>/        prefix-ensemble accuracies, chosen r, pseudo-labels
    s<seed>/strong/<variant>/<key>/ student probabilities
    report/<key>/                   results.json, report.md, plots
    results.json, report.md         copies of the newest report

A stage writes into ``<key>.partial/`` (checkpoints live there too, so a killed stage resumes) and
finishes by writing ``stage.json`` and renaming the folder to ``<key>``; a folder with ``stage.json``
is done and is skipped when the stage runs again with the same key. On object stores, where rename is
not atomic, ``stage.json`` is uploaded last and is the completion marker.

``stage.json`` (a :class:`StageRecord`) also holds the size and SHA-256 of every output file. Files
are checked against it: all of a stage's files when the stage is about to be skipped (sizes only on
object stores, where hashing means downloading), and each file's content when a later stage reads it
(at most once per store object). A mismatch is a :class:`DamagedArtifact` naming the file.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import shutil
import tempfile
import weakref
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import fsspec
import numpy as np
from ensemw2s.spec import Stage, StageKind, StageSummary
from ensemw2s.spec.base import SpecModel
from ensemw2s.spec.manifest import problem_from_pydantic
from fsspec.implementations.local import LocalFileSystem
from pydantic import BaseModel, Field, ValidationError

from .errors import StoreError
from .files import FileDigest, write_atomically

STAGE_FILE = "stage.json"
PROTOCOL_EXTRAS = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "az",
    "abfs": "az",
    "abfss": "az",
    "adl": "az",
}
"""The ``ensemw2s`` extra that installs the fsspec implementation of each cloud protocol."""
EXTRA_PACKAGES = {"s3": "s3fs", "gcs": "gcsfs", "az": "adlfs"}
"""The package each extra installs (pyproject.toml's optional dependencies)."""

Model = TypeVar("Model", bound=BaseModel)


class DamagedArtifact(StoreError):
    """A finished stage's output does not match its completion record, or cannot be parsed.

    Rerunning the reader cannot fix it: the damaged stage has to be redone (see ``redo_hint``).
    """

    permanent: ClassVar[bool] = True

    def __init__(self, stage: str, path: str, problem: str) -> None:
        self.stage = stage
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class StageRecord(SpecModel):
    """``stage.json``: the completion record of a stage, written last."""

    summary: StageSummary = Field(description="What the stage reported.")
    files: dict[str, FileDigest] = Field(description="Each output file (relative path) with its size and SHA-256.")
    inputs: dict[str, str] = Field(
        default_factory=dict,
        description="Each upstream stage it read (by name) with that stage's fingerprint at the time.",
    )

    @property
    def fingerprint(self) -> str:
        """One hash of every output file's digest: it changes when any output changes (e.g. a redo on a GPU
        that does not reproduce its bytes), which makes the stages that read the old outputs stale."""
        lines = "".join(f"{name}\0{digest.sha256}\n" for name, digest in sorted(self.files.items()))
        return hashlib.sha256(lines.encode()).hexdigest()


def stage_relpath(stage: Stage) -> str:
    """Where a stage's outputs live relative to the experiment root (without the key)."""
    if stage.kind is StageKind.REPORT:
        return "report"
    base = f"s{stage.seed}/{stage.kind.value}"
    if stage.kind is StageKind.WEAK:
        return f"{base}/r{stage.round}"
    if stage.kind is StageKind.STRONG:
        assert stage.variant is not None
        return f"{base}/{stage.variant.value}"
    return base


def validation_problem(exc: ValidationError) -> str:
    """A record's first validation error in the project's formula (field path, rule, value)."""
    errors = exc.errors()
    if errors[0]["type"] == "json_invalid":
        return f"not valid JSON ({errors[0].get('ctx', {}).get('error', errors[0]['msg'])})"
    first = str(problem_from_pydantic(errors[0]))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first}{more}"


def parse_arrays(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file's bytes; ValueError naming what is wrong with a damaged one."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as exc:
        raise ValueError(f"not a readable .npz archive ({type(exc).__name__}: {exc})") from None


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``.npz`` archive as ``np.savez`` writes it, minus the clock: the same arrays give the same bytes
    (and digest), so a redone stage's output can be compared with the one it replaces."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(entry, "w", force_zip64=True) as file:
                np.lib.format.write_array(file, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


@dataclass(frozen=True)
class StageOutput:
    """A finished stage's folder: read its files (records, numpy arrays, local paths), each checked once."""

    store: ExperimentStore
    stage: Stage
    path: str
    record: StageRecord

    def damaged(self, name: str, problem: str) -> DamagedArtifact:
        return DamagedArtifact(self.stage.name, f"{self.store.url}/{self.path}/{name}", problem)

    def expected(self, name: str) -> FileDigest:
        digest = self.record.files.get(name)
        if digest is None:
            raise self.damaged(name, f"not listed in {STAGE_FILE} (lists {', '.join(sorted(self.record.files))})")
        return digest

    def _verify_once(self, name: str, digest: Callable[[], FileDigest]) -> None:
        """Check the file's ``digest`` against the record the first time this store reads the file."""
        expected, relpath = self.expected(name), f"{self.path}/{name}"
        if relpath in self.store.verified:
            return
        problem = expected.mismatch(digest())
        if problem is not None:
            raise self.damaged(name, problem)
        self.store.verified.add(relpath)

    def read_bytes(self, name: str) -> bytes:
        """The file's content, checked against the record the first time this store reads it."""
        self.expected(name)  # an unlisted file is refused before it is read
        try:
            data: bytes = self.store.fs.cat_file(self.store.full_path(f"{self.path}/{name}"))
        except FileNotFoundError:
            raise self.damaged(name, "missing") from None
        self._verify_once(name, lambda: FileDigest.of_bytes(data))
        return data

    def read_model(self, name: str, model: type[Model]) -> Model:
        """A JSON record, validated: a damaged or hand-edited one fails naming the file and the field."""
        try:
            return model.model_validate_json(self.read_bytes(name))
        except ValidationError as exc:
            raise self.damaged(name, validation_problem(exc)) from None

    def read_arrays(self, name: str, *required: str) -> dict[str, np.ndarray]:
        """An ``.npz`` file's arrays; ``required`` names arrays it must hold."""
        try:
            arrays = parse_arrays(self.read_bytes(name))
        except ValueError as exc:
            raise self.damaged(name, str(exc)) from None
        missing = [array for array in required if array not in arrays]
        if missing:
            raise self.damaged(name, f"lacks the arrays {', '.join(missing)} (holds {', '.join(sorted(arrays))})")
        return arrays

    def local_path(self, name: str) -> Path:
        """A local copy of the file (the file itself on local stores), checked against the record."""
        self.expected(name)  # an unlisted file is refused before it is read
        try:
            path = self.store.local_path(f"{self.path}/{name}")
            self._verify_once(name, lambda: FileDigest.of_file(path))
        except FileNotFoundError:
            raise self.damaged(name, "missing") from None
        return path

    def local_directory(self, folder: str) -> Path:
        """A local copy of a folder of the output (a saved model), every file in it checked against the record."""
        names = [name for name in self.record.files if name.startswith(f"{folder}/")]
        if not names:
            raise self.damaged(folder, f"no file of this folder is listed in {STAGE_FILE}")
        directory = Path()
        for name in names:
            directory = self.local_path(name)
            for _ in Path(name[len(folder) + 1 :]).parts:
                directory = directory.parent
        return directory

    def check(self) -> None:
        """Every file present with its recorded size; content too on local stores (cheap there)."""
        for name, expected in sorted(self.record.files.items()):
            relpath = f"{self.path}/{name}"
            if relpath in self.store.verified:
                continue
            if self.store.local:
                self.local_path(name)
                continue
            try:
                size = int(self.store.fs.size(self.store.full_path(relpath)))
            except FileNotFoundError:
                raise self.damaged(name, "missing") from None
            problem = expected.size_mismatch(size)
            if problem is not None:
                raise self.damaged(name, problem)


@dataclass
class StageWorkspace:
    """Where a running stage writes: a local folder, persisted across kills on local stores."""

    directory: Path
    checkpoints: Path

    def write_bytes(self, name: str, data: bytes) -> None:
        write_atomically(self.directory / name, data)

    def write_model(self, name: str, record: BaseModel) -> None:
        """A JSON record (camelCase keys, as every model of the project)."""
        self.write_bytes(name, (record.model_dump_json(by_alias=True, indent=2) + "\n").encode())

    def write_arrays(self, name: str, **arrays: np.ndarray) -> None:
        self.write_bytes(name, npz_bytes(arrays))

    def outputs(self) -> dict[str, FileDigest]:
        """Each file written so far (checkpoints and temporary files aside) with its digest."""
        found = {}
        for file in sorted(self.directory.rglob("*")):
            relative = file.relative_to(self.directory)
            hidden = any(part.startswith(".") for part in relative.parts)
            if file.is_file() and not hidden and relative.parts[0] != self.checkpoints.name and file.name != STAGE_FILE:
                found[relative.as_posix()] = FileDigest.of_file(file)
        return found


@contextmanager
def _exclusive(directory: Path, stage: Stage) -> Iterator[None]:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError(
                f"stage {stage.name}: already running in another process ({directory} is locked); "
                "wait for it to finish, or stop it and run again to resume"
            ) from None
        except OSError:
            pass  # a file system without locks (some NFS mounts): proceed unlocked
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _missing_protocol(root: str, exc: ImportError) -> StoreError:
    protocol = root.split("://", 1)[0] if "://" in root else ""
    extra = PROTOCOL_EXTRAS.get(protocol)
    if extra is None:
        return StoreError(f"store {root!r}: cannot open ({exc}); install the fsspec implementation of {protocol}://")
    return StoreError(
        f"store {root!r}: the {protocol}:// protocol needs {EXTRA_PACKAGES[extra]}, which is not installed; "
        f"pip install 'ensemw2s[{extra}]'"
    )


def flocked_files(locks: Path = Path("/proc/locks")) -> frozenset[tuple[int, int, int]] | None:
    """``(major, minor, inode)`` of every file under a flock, from ``/proc/locks`` (Linux); None where unreadable."""
    try:
        lines = locks.read_text(encoding="ascii").splitlines()
    except OSError:
        return None
    found: set[tuple[int, int, int]] = set()
    for line in lines:
        parts = line.split()
        if len(parts) >= 6 and parts[1] == "FLOCK":
            device = parts[5].split(":")
            if len(device) == 3:
                found.add((int(device[0], 16), int(device[1], 16), int(device[2])))
    return frozenset(found)


class ExperimentStore:
    """The store of one experiment (``<root>/<namespace>/<name>``)."""

    def __init__(self, root: str, namespace: str, name: str) -> None:
        self.url = f"{root.rstrip('/')}/{namespace}/{name}"
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url)
        except ImportError as exc:
            raise _missing_protocol(root, exc) from None
        except ValueError as exc:
            raise StoreError(f"store {root!r}: cannot open ({exc}); use a local path or an fsspec URL") from None
        self.local = isinstance(self.fs, LocalFileSystem)
        self.verified: set[str] = set()
        """Files (relative paths) whose content matched their stage's record, checked once per store object."""
        self._records: dict[str, StageRecord] = {}
        self._downloads: Path | None = None
        self._work = Path(tempfile.gettempdir()) / "ensemw2s-work"

    # -- plain files -----------------------------------------------------------------------
    def full_path(self, relpath: str) -> str:
        return f"{self.root}/{relpath}"

    def exists(self, relpath: str) -> bool:
        return bool(self.fs.exists(self.full_path(relpath)))

    def write_bytes(self, relpath: str, data: bytes) -> None:
        if self.local:
            write_atomically(Path(self.full_path(relpath)), data)
        else:
            self.fs.pipe_file(self.full_path(relpath), data)

    def write_model(self, relpath: str, record: BaseModel) -> None:
        self.write_bytes(relpath, (record.model_dump_json(by_alias=True, indent=2) + "\n").encode())

    def write_json(self, relpath: str, data: Any) -> None:
        import json

        self.write_bytes(relpath, json.dumps(data, indent=2, sort_keys=True).encode())

    def local_path(self, relpath: str) -> Path:
        """A local file for ``relpath`` (downloaded once into a cache on object stores)."""
        if self.local:
            return Path(self.full_path(relpath))
        if self._downloads is None:
            # Private to this store object and removed with it: a cache that outlived its store could
            # serve files of a store that was since wiped and rebuilt.
            self._downloads = Path(tempfile.mkdtemp(prefix="ensemw2s-downloads-"))
            weakref.finalize(self, shutil.rmtree, self._downloads, True)
        target = self._downloads / relpath
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            self.fs.get(self.full_path(relpath), str(target))
        return target

    def remove(self) -> None:
        """Delete everything this experiment stored."""
        if self.fs.exists(self.root):
            self.fs.rm(self.root, recursive=True)

    # -- stages ----------------------------------------------------------------------------
    def stage_path(self, stage: Stage, key: str) -> str:
        return f"{stage_relpath(stage)}/{key}"

    def record(self, stage: Stage, key: str) -> StageRecord | None:
        """A finished stage's completion record, or None; DamagedArtifact when it cannot be read."""
        path = self.stage_path(stage, key)
        if path in self._records:
            return self._records[path]
        marker = f"{path}/{STAGE_FILE}"
        where = f"{self.url}/{marker}"
        try:
            data = self.fs.cat_file(self.full_path(marker))
        except FileNotFoundError:
            return None
        try:
            record = StageRecord.model_validate_json(data)
        except ValidationError as exc:
            raise DamagedArtifact(stage.name, where, validation_problem(exc)) from None
        if (record.summary.stage, record.summary.key) != (stage.name, key):
            raise DamagedArtifact(
                stage.name,
                where,
                f"records stage {record.summary.stage} with key {record.summary.key} "
                f"(expected {stage.name} with key {key})",
            )
        self._records[path] = record
        return record

    def output(self, stage: Stage, key: str) -> StageOutput | None:
        """A finished stage's output (its files are checked as they are read), or None when not finished."""
        record = self.record(stage, key)
        return None if record is None else StageOutput(self, stage, self.stage_path(stage, key), record)

    def finished(self, stage: Stage, key: str) -> StageSummary | None:
        """The summary of a finished stage with this key, or None; DamagedArtifact when its files are damaged."""
        output = self.output(stage, key)
        if output is None:
            return None
        output.check()
        return output.record.summary

    def discard(self, stage: Stage, key: str) -> None:
        """Delete a finished stage's output, so that the stage runs again (its partial folder is kept)."""
        path = self.stage_path(stage, key)
        self._records.pop(path, None)
        self.verified = {relpath for relpath in self.verified if not relpath.startswith(f"{path}/")}
        full = self.full_path(path)
        if self.local:
            shutil.rmtree(full, ignore_errors=True)
            return
        marker = f"{full}/{STAGE_FILE}"
        if self.fs.exists(marker):
            self.fs.rm_file(marker)  # first: a half-deleted folder is not taken for a finished one
        if self.fs.exists(full):
            self.fs.rm(full, recursive=True)

    def partial_path(self, stage: Stage, key: str) -> str:
        """Where a started, unfinished stage works (relative to the experiment; see :meth:`workspace`)."""
        return f"{self.stage_path(stage, key)}.partial"

    def is_running(self, stage: Stage, key: str, locks: frozenset[tuple[int, int, int]] | None) -> bool:
        """Whether a process holds the lock a running stage takes on its partial folder (local stores).

        ``locks`` is :func:`flocked_files`, read once per look at a store; the lock itself is never taken,
        since taking it even for an instant could make the run fail with "already running"."""
        if not self.local or locks is None:
            return False
        try:
            info = os.stat(self.full_path(self.partial_path(stage, key)))
        except OSError:
            return False
        return (os.major(info.st_dev), os.minor(info.st_dev), info.st_ino) in locks

    @contextmanager
    def workspace(self, stage: Stage, key: str, *, exclusive: bool = True) -> Iterator[StageWorkspace]:
        """A folder to write a stage's outputs into; kept after a crash so the stage resumes.

        ``exclusive`` locks it (flock on the folder): a second process running the same stage of the same
        experiment fails at once instead of overwriting the first one's checkpoints.
        """
        partial = self.partial_path(stage, key)
        directory = Path(self.full_path(partial)) if self.local else self._work / self.url.replace("://", "/") / partial
        directory.mkdir(parents=True, exist_ok=True)
        with _exclusive(directory, stage) if exclusive else nullcontext():
            yield StageWorkspace(directory, directory / "checkpoints")

    def publish(
        self,
        stage: Stage,
        key: str,
        workspace: StageWorkspace,
        summary: StageSummary,
        inputs: dict[str, str] | None = None,
    ) -> StageRecord:
        """Finish a stage: drop its checkpoints, write stage.json with the digest of every output file (and
        the fingerprint of every input it read), make the folder visible atomically."""
        shutil.rmtree(workspace.checkpoints, ignore_errors=True)
        record = StageRecord(summary=summary, files=workspace.outputs(), inputs=dict(sorted((inputs or {}).items())))
        workspace.write_model(STAGE_FILE, record)
        path = self.stage_path(stage, key)
        final = self.full_path(path)
        self._records.pop(path, None)
        if self.local:
            if Path(final).exists():
                shutil.rmtree(final)
            workspace.directory.replace(final)
            return record
        for name in [*record.files, STAGE_FILE]:  # stage.json last: the completion marker
            self.fs.put_file(str(workspace.directory / name), f"{final}/{name}")
        shutil.rmtree(workspace.directory, ignore_errors=True)
        return record
