"""load_dataset_items dispatches on spec.dataset: local source, synthetic generator, or the hub."""

from __future__ import annotations

import json
import sys

import pytest
from ensemw2s.trainer.data import DatasetError, generate_synthetic_sentiment, load_dataset_items


def test_local_source_is_shuffled_and_capped(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps({"text": f"t{i}", "label": i % 2}) for i in range(20)))
    items = load_dataset_items("local", source=str(path), max_items=8, seed=0)
    assert len(items) == 8 and len({i.id for i in items}) == 8
    assert items == load_dataset_items("local", source=f"file://{path}", max_items=8, seed=0)
    assert [i.id for i in load_dataset_items("local", str(path), None, seed=0)] != [
        f"data.jsonl:{i}" for i in range(1, 21)
    ]


def test_synthetic_generates_max_items():
    items = load_dataset_items("synthetic-sentiment", source=None, max_items=50, seed=3)
    assert items == generate_synthetic_sentiment(50, seed=3)


def test_local_without_source_is_an_error():
    with pytest.raises(DatasetError, match=r"spec.dataset.source: required when spec.dataset.name is 'local'"):
        load_dataset_items("local", source=None, max_items=None, seed=0)


def test_unknown_name_is_an_error():
    with pytest.raises(DatasetError, match="unknown dataset 'sciqq'"):
        load_dataset_items("sciqq", source=None, max_items=None, seed=0)


def test_nonpositive_cap_is_an_error():
    with pytest.raises(DatasetError, match=r"spec.dataset.maxItems: must be >= 1 \(got 0\)"):
        load_dataset_items("synthetic-sentiment", source=None, max_items=0, seed=0)


def test_hub_names_go_to_the_hub_loader(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(DatasetError, match="install the 'datasets' package"):
        load_dataset_items("sciq", source=None, max_items=10, seed=0)
