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
