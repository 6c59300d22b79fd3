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
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
from ensemw2s.spec import Stage, StageKind, StageSummary
from fsspec.implementations.local import LocalFileSystem

from .errors import StoreError

STAGE_FILE = "stage.json"


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


@dataclass(frozen=True)
class StageOutput:
    """A finished stage's folder: read its files (numpy arrays, JSON, local paths)."""

    store: ExperimentStore
    path: str

    def read_json(self, name: str) -> Any:
        return self.store.read_json(f"{self.path}/{name}")

    def read_arrays(self, name: str) -> dict[str, np.ndarray]:
        return self.store.read_arrays(f"{self.path}/{name}")

    def local_path(self, name: str) -> Path:
        return self.store.local_path(f"{self.path}/{name}")


@dataclass
class StageWorkspace:
    """Where a running stage writes: a local folder, persisted across kills on local stores."""

    directory: Path
    checkpoints: Path

    def write_json(self, name: str, data: Any) -> None:
        _atomic_write(self.directory / name, json.dumps(data, indent=2, sort_keys=True).encode())

    def write_arrays(self, name: str, **arrays: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
        _atomic_write(self.directory / name, buffer.getvalue())


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


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


class ExperimentStore:
    """The store of one experiment (``<root>/<namespace>/<name>``)."""

    def __init__(self, root: str, namespace: str, name: str) -> None:
        self.url = f"{root.rstrip('/')}/{namespace}/{name}"
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as exc:
            raise StoreError(f"store {root!r}: cannot open ({exc}); use a local path or an fsspec URL") from None
        self.local = isinstance(self.fs, LocalFileSystem)
        self._downloads: Path | None = None
        self._work = Path(tempfile.gettempdir()) / "ensemw2s-work"

    # -- plain files -----------------------------------------------------------------------
    def _full(self, relpath: str) -> str:
        return f"{self.root}/{relpath}"

    def exists(self, relpath: str) -> bool:
        return bool(self.fs.exists(self._full(relpath)))

    def read_json(self, relpath: str) -> Any:
        try:
            with self.fs.open(self._full(relpath), "rb") as fh:
                return json.load(fh)
        except FileNotFoundError:
            raise StoreError(f"{self.url}/{relpath}: not found") from None

    def write_json(self, relpath: str, data: Any) -> None:
        text = json.dumps(data, indent=2, sort_keys=True).encode()
        if self.local:
            _atomic_write(Path(self._full(relpath)), text)
        else:
            self.fs.pipe_file(self._full(relpath), text)

    def read_arrays(self, relpath: str) -> dict[str, np.ndarray]:
        with self.fs.open(self._full(relpath), "rb") as fh, np.load(io.BytesIO(fh.read())) as data:
            return {k: data[k] for k in data.files}

    def local_path(self, relpath: str) -> Path:
        """A local file for ``relpath`` (downloaded once into a cache on object stores)."""
        if self.local:
            return Path(self._full(relpath))
        if self._downloads is None:
            # Private to this store object and removed with it: a cache that outlived its store could
            # serve files of a store that was since wiped and rebuilt.
            self._downloads = Path(tempfile.mkdtemp(prefix="ensemw2s-downloads-"))
            weakref.finalize(self, shutil.rmtree, self._downloads, True)
        target = self._downloads / relpath
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            self.fs.get(self._full(relpath), str(target))
        return target

    def remove(self) -> None:
        """Delete everything this experiment stored."""
        if self.fs.exists(self.root):
            self.fs.rm(self.root, recursive=True)

    # -- stages ----------------------------------------------------------------------------
    def stage_path(self, stage: Stage, key: str) -> str:
        return f"{stage_relpath(stage)}/{key}"

    def finished(self, stage: Stage, key: str) -> StageSummary | None:
        """The summary of a finished stage with this key, or None."""
        marker = f"{self.stage_path(stage, key)}/{STAGE_FILE}"
        if not self.exists(marker):
            return None
        return StageSummary.model_validate(self.read_json(marker))

    def output(self, stage: Stage, key: str) -> StageOutput:
        return StageOutput(self, self.stage_path(stage, key))

    @contextmanager
    def workspace(self, stage: Stage, key: str, *, exclusive: bool = True) -> Iterator[StageWorkspace]:
        """A folder to write a stage's outputs into; kept after a crash so the stage resumes.

        ``exclusive`` locks it (flock on the folder): a second process running the same stage of the same
        experiment fails at once instead of overwriting the first one's checkpoints.
        """
        partial = f"{self.stage_path(stage, key)}.partial"
        directory = Path(self._full(partial)) if self.local else self._work / self.url.replace("://", "/") / partial
        directory.mkdir(parents=True, exist_ok=True)
        with _exclusive(directory, stage) if exclusive else nullcontext():
            yield StageWorkspace(directory, directory / "checkpoints")

    def publish(self, stage: Stage, key: str, workspace: StageWorkspace, summary: StageSummary) -> None:
        """Finish a stage: drop its checkpoints, write stage.json, make the folder visible atomically."""
        shutil.rmtree(workspace.checkpoints, ignore_errors=True)
        workspace.write_json(STAGE_FILE, summary.to_json_dict())
        final = self._full(self.stage_path(stage, key))
        if self.local:
            if Path(final).exists():
                shutil.rmtree(final)
            workspace.directory.replace(final)
            return
        for file in sorted(workspace.directory.rglob("*"), key=lambda p: p.name == STAGE_FILE):
            if file.is_file():
                self.fs.put_file(str(file), f"{final}/{file.relative_to(workspace.directory)}")
        shutil.rmtree(workspace.directory, ignore_errors=True)
