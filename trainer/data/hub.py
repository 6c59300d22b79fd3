"""Loading registry datasets from the Hugging Face Hub (the ``datasets`` package, imported lazily)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import DatasetError
from .records import Item
from .registry import DatasetEntry


def _import_datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise DatasetError(
            "loading hub datasets: the 'datasets' package is not installed; "
            "install the 'datasets' package (pip install 'ensemw2s[hub]') or use source: file://path.jsonl"
        ) from None
    return datasets


def load_hub_items(entry: DatasetEntry, max_items: int | None, seed: int) -> list[Item]:
    """The entry's splits concatenated, shuffled with ``seed``, truncated to ``max_items``.

    Only the selected rows are converted, so a cap on a large dataset (amazon_polarity) stays cheap.
    Rows without an ``id`` get ``<name>/<split>/<row index>``.
    """
    if max_items is not None and max_items < 1:
        raise DatasetError(f"spec.dataset.maxItems: must be >= 1 (got {max_items}); raise it or leave it unset")
    datasets = _import_datasets()
    splits = [datasets.load_dataset(entry.hf_path, entry.hf_config, split=s) for s in entry.hf_splits]
    offsets = np.cumsum([0, *(len(s) for s in splits)])
    total = int(offsets[-1])
    if total == 0:
        raise DatasetError(
            f"spec.dataset.name: dataset '{entry.name}' ({entry.hf_path}) has no rows in splits "
            f"{', '.join(entry.hf_splits)}; check the dataset or use a local file"
        )
    order = np.random.default_rng(seed).permutation(total)
    if max_items is not None:
        order = order[:max_items]
    items_by_position = _convert_selected(entry, splits, offsets, order)
    return [items_by_position[int(p)] for p in order]


def _convert_selected(
    entry: DatasetEntry, splits: Sequence[Any], offsets: np.ndarray, order: np.ndarray
) -> dict[int, Item]:
    converted: dict[int, Item] = {}
    for split_index, (split_name, split) in enumerate(zip(entry.hf_splits, splits, strict=True)):
        start, stop = int(offsets[split_index]), int(offsets[split_index + 1])
        positions = np.sort(order[(order >= start) & (order < stop)])
        if positions.size == 0:
            continue
        rows = split.select([int(p) - start for p in positions])
        for position, row in zip(positions, rows, strict=True):
            item = entry.row_to_item(row)
            if not item.id:
                item = dataclasses.replace(item, id=f"{entry.name}/{split_name}/{int(position) - start}")
            converted[int(position)] = item
    return converted
