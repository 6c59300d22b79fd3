"""The same pipeline over an fsspec URL (memory://, standing in for s3:// or gs://): upload on publish,
stage.json last, downloads into a local cache for token files."""

from __future__ import annotations

import json

import fsspec
import pytest
from ensemw2s.spec import parse_manifest
from ensemw2s.trainer.progress import SilentProgress
from ensemw2s.trainer.runner import run_experiment


def test_pipeline_over_an_object_store(tiny_data: dict[str, object], finished: tuple[object, object]) -> None:
    data = json.loads(json.dumps(tiny_data))
    data["metadata"]["name"] = "tiny-remote"
    manifest = parse_manifest(data)
    run = run_experiment(manifest, "memory://w2s-test", SilentProgress())
    fs = fsspec.filesystem("memory")
    assert fs.exists("/w2s-test/default/tiny-remote/results.json")
    assert not [p for p in fs.find("/w2s-test") if ".partial" in p]
    stage_files = [p for p in fs.find("/w2s-test") if p.endswith("/stage.json")]
    assert len(stage_files) == len(run.summaries)
    again = run_experiment(manifest, "memory://w2s-test", SilentProgress())
    assert all(s.skipped for s in again.summaries.values())
    _, local_store = finished
    expected = json.loads((local_store / "default/tiny/results.json").read_text())  # type: ignore[operator]
    actual = json.loads(fs.cat("/w2s-test/default/tiny-remote/results.json"))
    assert actual["seeds"] == expected["seeds"], "the store backend does not change a single number"


def test_unknown_protocol_is_a_clear_error(tiny_data: dict[str, object]) -> None:
    from ensemw2s.trainer.errors import StoreError

    with pytest.raises(StoreError, match=r"store 'nosuchproto://x': cannot open"):
        run_experiment(parse_manifest(tiny_data), "nosuchproto://x", SilentProgress())


def test_downloads_are_private_to_one_store_object() -> None:
    """A store wiped and rebuilt under the same URL must not be served from an older download."""
    from ensemw2s.trainer.store import ExperimentStore

    fs = fsspec.filesystem("memory")
    first = ExperimentStore("memory://w2s-cache-test", "default", "x")
    fs.pipe_file("/w2s-cache-test/default/x/data.bin", b"old")
    assert first.local_path("data.bin").read_bytes() == b"old"
    fs.rm("/w2s-cache-test", recursive=True)
    fs.pipe_file("/w2s-cache-test/default/x/data.bin", b"new")
    second = ExperimentStore("memory://w2s-cache-test", "default", "x")
    assert second.local_path("data.bin").read_bytes() == b"new"


def test_the_synthetic_generator_version_is_part_of_the_prepare_key(
    tiny_data: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ensemw2s.spec import Stage, StageKind
    from ensemw2s.trainer import keys

    spec = parse_manifest(tiny_data).spec
    before = keys._stage_keys(spec.model_dump_json())
    keys._stage_keys.cache_clear()
    monkeypatch.setattr(keys, "GENERATOR_VERSION", keys.GENERATOR_VERSION + 1)
    after = keys._stage_keys(spec.model_dump_json())
    keys._stage_keys.cache_clear()
    prepare = Stage(StageKind.PREPARE, 1)
    assert dict(before)[prepare] != dict(after)[prepare]
