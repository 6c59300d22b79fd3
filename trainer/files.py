"""Files the trainer publishes: written atomically, readable by the group, fingerprinted by content.

Stores are often shared volumes (a PVC, an NFS home), so a published file gets the permissions any new
file gets (0666 less the umask: 0644 or 0664), never the 0600 of a private temporary file.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from ensemw2s.spec.base import SpecModel
from pydantic import Field

PUBLISHED_MODE = 0o666
"""The mode a published file is created with; the process's umask is applied by the OS."""

_CHUNK = 1 << 20


def write_atomically(path: Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``.

    A reader never sees half a file; the file's mode is ``PUBLISHED_MODE`` less the umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PUBLISHED_MODE)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


class FileDigest(SpecModel):
    """A file's size and SHA-256: what a stage's completion record holds for each output file."""

    size: int = Field(ge=0, description="Bytes.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the content, hex.")

    @classmethod
    def of_bytes(cls, data: bytes) -> FileDigest:
        return cls(size=len(data), sha256=hashlib.sha256(data).hexdigest())

    @classmethod
    def of_file(cls, path: Path) -> FileDigest:
        digest = hashlib.sha256()
        size = 0
        with open(path, "rb") as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        return cls(size=size, sha256=digest.hexdigest())

    def size_mismatch(self, size: int) -> str | None:
        """How a file of ``size`` bytes differs from this recorded digest, or None when the size matches."""
        if size != self.size:
            return f"size does not match the stage's record (got {size} bytes, recorded {self.size}); truncated?"
        return None

    def mismatch(self, actual: FileDigest) -> str | None:
        """How ``actual`` differs from this recorded digest, or None when it matches."""
        if actual.sha256 != self.sha256:
            return self.size_mismatch(actual.size) or (
                f"SHA-256 does not match the stage's record (got {actual.sha256[:12]}..., recorded {self.sha256[:12]}...)"
            )
        return None
