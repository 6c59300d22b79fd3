from __future__ import annotations

import numpy as np
import pytest
import torch
from ensemw2s.trainer.training import (
    BatchPlan,
    MicroBatch,
    PlanSampler,
    TrainingExamples,
    epoch_batches,
    resample_indices,
    step_micro_batches,
)


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


def test_one_process_without_accumulation_sees_the_plan_unchanged() -> None:
    plan = _plan()
    dealt = list(PlanSampler(plan, processes=1, accumulation=1))
    assert [micro.examples.tolist() for micro in dealt] == [batch.tolist() for batch in plan.batches()]
    assert [micro.step_size for micro in dealt] == [len(batch) for batch in plan.batches()]
    assert not any(micro.filler for micro in dealt)


def test_a_step_is_dealt_round_by_round_one_micro_batch_per_process() -> None:
    batch = np.arange(100, 116)
    dealt = step_micro_batches(batch, processes=2, accumulation=2)
    assert len(dealt) == 4 and all(micro.step_size == 16 and not micro.filler for micro in dealt)
    rank0, rank1 = dealt[0::2], dealt[1::2]  # how accelerate shards a prepared loader: every 2nd batch
    assert np.concatenate([m.examples for m in rank0]).tolist() == batch[0::2].tolist()
    assert np.concatenate([m.examples for m in rank1]).tolist() == batch[1::2].tolist()
    assert [len(m.examples) for m in dealt] == [4, 4, 4, 4]


def test_one_process_accumulation_cuts_a_full_batch_into_equal_pieces_in_order() -> None:
    dealt = step_micro_batches(np.arange(32), processes=1, accumulation=4)
    assert [m.examples.tolist() for m in dealt] == [list(range(i, i + 8)) for i in range(0, 32, 8)]


def test_a_step_shorter_than_its_micro_batches_gets_fillers() -> None:
    dealt = step_micro_batches(np.array([7, 8, 9]), processes=2, accumulation=2)
    assert len(dealt) == 4, "every process still runs `accumulation` passes"
    real = [m for m in dealt if not m.filler]
    assert sorted(int(i) for m in real for i in m.examples) == [7, 8, 9]
    [filler] = [m for m in dealt if m.filler]
    assert filler.examples.tolist() == [0] and filler.step_size == 3


def test_the_sampler_deals_every_step_for_every_process() -> None:
    plan = _plan(count=50, batch_size=8, epochs=1.0)
    sampler = PlanSampler(plan, processes=2, accumulation=2)
    dealt = list(sampler)
    assert len(sampler) == len(dealt) == plan.total_steps * 4
    real = [int(i) for micro in dealt if not micro.filler for i in micro.examples]
    assert sorted(real) == list(range(50)), "each example once per epoch, whatever the processes"


def test_training_examples_fetch_a_padded_micro_batch(task) -> None:
    targets = torch.as_tensor(task.targets)
    scales = torch.arange(len(task.encoded), dtype=torch.float32)
    examples = TrainingExamples(task.encoded, targets, scales)
    fetched = examples.__getitems__(MicroBatch(np.array([3, 5]), 16, False))
    expected = task.encoded.batch(torch.tensor([3, 5]))
    assert torch.equal(fetched.input_ids, expected.input_ids)
    assert torch.equal(fetched.attention_mask, expected.attention_mask)
    assert torch.equal(fetched.targets, targets[[3, 5]]) and fetched.scales.tolist() == [3.0, 5.0]
    assert fetched.step_size == 16
    filler = examples.__getitems__(MicroBatch(np.array([0]), 3, True))
    assert filler.scales.tolist() == [0.0], "a filler trains nothing"
    unweighted = TrainingExamples(task.encoded, targets, None).__getitems__(MicroBatch(np.array([1]), 1, False))
    assert unweighted.scales.tolist() == [1.0]
