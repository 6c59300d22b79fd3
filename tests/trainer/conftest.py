"""Fixtures shared by every trainer test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def one_cpu_thread() -> Iterator[None]:
    """One intra-op thread: the CPUs are shared, and oversubscribed threads slow tests tenfold."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
