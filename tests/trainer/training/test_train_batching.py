from __future__ import annotations

import numpy as np
import pytest
from ensemw2s.trainer.training import BatchPlan, epoch_batches, resample_indices


def _plan(count: int = 50, batch_size: int = 8, epochs: float = 2.0, group: bool = True) -> BatchPlan:
    lengths = np.random.default_rng(0).integers(1, 40, count)
    return BatchPlan(np.arange(count), lengths, batch_size, epochs, seed=3, group_by_length=group)


@pytest.mark.parametrize("group", [True, False])
def test_every_epoch_covers_every_example_once(group: bool) -> None:
    plan = _plan(group=group)
    batches = [b.numpy() for b in plan.batches()]
    assert len(batches) == plan.total_steps == 2 * plan.steps_per_epoch == 14
    first = np.concatenate(batches[: plan.steps_per_epoch])
    assert sorted(first.tolist()) == list(range(50))
    assert not np.array_equal(first, np.concatenate(batches[plan.steps_per_epoch :]))


def test_fractional_epochs_round_up_to_whole_steps() -> None:
    assert _plan(epochs=0.5).total_steps == 4
    assert _plan(epochs=0.01).total_steps == 1


def test_resuming_mid_epoch_continues_the_same_plan() -> None:
    plan = _plan()
    full = [b.tolist() for b in plan.batches()]
    assert [b.tolist() for b in plan.batches(9)] == full[9:]


def test_grouping_reduces_padding() -> None:
    lengths = np.random.default_rng(1).integers(1, 200, 2048)
    pool = np.arange(2048)

    def padded_tokens(group: bool) -> int:
        batches = epoch_batches(pool, lengths, 16, seed=0, epoch=0, group_by_length=group)
        return sum(int(lengths[b].max()) * len(b) for b in batches)

    assert padded_tokens(True) < 0.7 * padded_tokens(False)


def test_resampling_follows_the_weights_and_the_seed() -> None:
    weights = np.array([0.0, 0.0, 0.9, 0.1])
    drawn = resample_indices(np.tile(weights, 250), seed=5)
    assert len(drawn) == 1000 and set(np.unique(drawn % 4)) <= {2, 3}
    assert 0.85 < np.mean(drawn % 4 == 2) < 0.95
    assert np.array_equal(drawn, resample_indices(np.tile(weights, 250), seed=5))
    assert not np.array_equal(drawn, resample_indices(np.tile(weights, 250), seed=6))
