"""Causal-LM training on the shared loop: answer encoding, token-weighted loss, resume, teacher forcing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from ensemw2s.trainer.method.ensemble_decoding import DecodingSettings, EnsembleLearner, ensemble_decode_ids
from ensemw2s.trainer.method.token_errors import logits_token_errors
from ensemw2s.trainer.models.causal_lm import LoadedCausalLM, load_causal_lm
from ensemw2s.trainer.training import (
    EncodedAnswers,
    EncodedTexts,
    ProgressEvent,
    TrainConfig,
    TrainingError,
    encode_answers,
    encode_questions,
    teacher_forced,
    train_causal_lm,
)
from ensemw2s.trainer.training.batching import MicroBatch
from ensemw2s.trainer.training.causal_lm_loop import AnswerExamples, _TokenNLLObjective
from ensemw2s.trainer.training.checkpoint import RECORD_FILE

COLOURS = {"red": "apple", "blue": "sky", "green": "grass", "gold": "coin", "white": "snow", "black": "night"}


def toy_qa() -> tuple[list[str], list[str]]:
    prompts = [f"Q: what is {colour} like?\nA:" for colour in COLOURS]
    return prompts, [f" {thing}\n" for thing in COLOURS.values()]


def fresh(seed: int = 1) -> tuple[LoadedCausalLM, EncodedAnswers]:
    prompts, targets = toy_qa()
    loaded = load_causal_lm("tiny-weak", prompts + targets, seed, None, base_seed=seed, field="model")
    for module in loaded.model.modules():  # resume equality is exact only without dropout's draws mattering
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return loaded, encode_answers(loaded.tokenizer, prompts, targets, 32)


def weights_equal(a: torch.nn.Module, b: torch.nn.Module, atol: float = 0.0) -> bool:
    return all(torch.allclose(x, y, rtol=0, atol=atol) for x, y in zip(a.parameters(), b.parameters(), strict=True))


# --- answer encoding ------------------------------------------------------------------------------------


def test_sequences_are_prompt_then_answer_then_eos() -> None:
    loaded, encoded = fresh()
    eos = loaded.tokenizer.eos_token_id
    for index, (prompt, target) in enumerate(zip(*toy_qa(), strict=True)):
        prompt_ids = loaded.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        target_ids = loaded.tokenizer(target, add_special_tokens=False)["input_ids"]
        assert encoded.sequences.ids(index) == [*prompt_ids, *target_ids, eos]
        assert int(encoded.prompt_lengths[index]) == len(prompt_ids)
    assert encoded.answers.lengths.tolist() == [2] * len(COLOURS)
    assert encoded.prompt_ids() == encode_questions(loaded.tokenizer, toy_qa()[0], 32)


def test_long_prompts_are_cut_from_the_left_and_answers_never() -> None:
    loaded, _ = fresh()
    prompt = "Q: what is red like? what is blue like?\nA:"
    encoded = encode_answers(loaded.tokenizer, [prompt], [" apple sky\n"], 6)
    ids = encoded.sequences.ids(0)
    assert loaded.tokenizer.convert_ids_to_tokens(ids) == ["?", "a", ":", "apple", "sky", "[EOS]"]
    assert encode_questions(loaded.tokenizer, [prompt], 6) == [encode_questions(loaded.tokenizer, [prompt], 99)[0][-5:]]
    with pytest.raises(TrainingError, match=r"targets\[0\]: encodes to 3 tokens with EOS, leaving no room"):
        encode_answers(loaded.tokenizer, [prompt], [" apple sky\n"], 3)


@pytest.mark.parametrize(
    ("prompts", "targets", "message"),
    [
        (["Q: red"], [" a", " b"], "targets: must hold one answer per prompt"),
        ([], [], "prompts: is empty"),
        (["Q: red", "   "], [" a", " b"], r"prompts\[1\]: encodes to no tokens"),
    ],
)
def test_bad_question_sets_are_refused(prompts: list[str], targets: list[str], message: str) -> None:
    loaded, _ = fresh()
    with pytest.raises(TrainingError, match=message):
        encode_answers(loaded.tokenizer, prompts, targets, 32)


def test_a_tokenizer_without_eos_is_refused() -> None:
    loaded, _ = fresh()
    loaded.tokenizer.eos_token = None
    with pytest.raises(TrainingError, match=r"tokenizer\.eos_token: is not set"):
        encode_answers(loaded.tokenizer, ["Q: red"], [" a"], 32)


def test_encoded_answers_save_load_and_subset(tmp_path: Path) -> None:
    _, encoded = fresh()
    encoded.save(tmp_path / "answers.safetensors")
    back = EncodedAnswers.load(tmp_path / "answers.safetensors")
    assert torch.equal(back.sequences.token_ids, encoded.sequences.token_ids)
    assert (
        torch.equal(back.prompt_lengths, encoded.prompt_lengths) and back.sequences.pad_id == encoded.sequences.pad_id
    )
    part = encoded.subset([3, 1])
    assert part.prompt_ids() == [encoded.prompt_ids()[3], encoded.prompt_ids()[1]]
    assert part.answers.lengths.tolist() == encoded.answers.lengths[[3, 1]].tolist()
    encoded.sequences.save(tmp_path / "texts.safetensors")
    with pytest.raises(TrainingError, match="is not an encoded-answers file"):
        EncodedAnswers.load(tmp_path / "texts.safetensors")


# --- the token-weighted loss ----------------------------------------------------------------------------


def batch_loss(model, encoded: EncodedAnswers, weights: np.ndarray) -> torch.Tensor:
    """The objective's loss of one micro-batch holding every question (the whole step)."""
    from ensemw2s.trainer.method.token_boosting import token_loss_scales

    scales = torch.from_numpy(token_loss_scales(weights, encoded.answers)).float()
    examples = AnswerExamples(encoded, scales)
    batch = examples.__getitems__(MicroBatch(np.arange(len(encoded)), len(encoded), False))
    return _TokenNLLObjective(examples).loss(model, batch, 0, 1, float(len(encoded)))


def hand_nll(model, encoded: EncodedAnswers) -> np.ndarray:
    """Each answer token's NLL, one question at a time, from the softmax by hand."""
    values = []
    for index in range(len(encoded)):
        ids = torch.tensor([encoded.sequences.ids(index)])
        with torch.no_grad():
            log_probs = F.log_softmax(model(input_ids=ids).logits[0].double(), -1)
        for position in range(int(encoded.prompt_lengths[index]), ids.shape[1]):
            values.append(-float(log_probs[position - 1, ids[0, position]]))
    return np.array(values)


def test_weighted_loss_is_the_weighted_mean_token_nll_and_uniform_the_plain_mean() -> None:
    loaded, encoded = fresh()
    model = loaded.model.eval()
    nll = hand_nll(model, encoded)
    weights = np.random.default_rng(0).random(encoded.answers.num_tokens)
    with torch.no_grad():
        weighted = float(batch_loss(model, encoded, weights))
        uniform = float(batch_loss(model, encoded, encoded.answers.uniform_weights()))
    assert weighted == pytest.approx(float((weights * nll).sum() / weights.sum()), rel=1e-5)
    assert uniform == pytest.approx(float(nll.mean()), rel=1e-5)
    assert weighted != pytest.approx(uniform, rel=1e-3), "the weights matter: the test can fail"
    only_first = np.zeros_like(weights)
    only_first[:2] = 1.0  # question 0's two answer tokens
    with torch.no_grad():
        assert float(batch_loss(model, encoded, only_first)) == pytest.approx(float(nll[:2].mean()), rel=1e-5)


def test_zero_weight_questions_have_no_influence() -> None:
    config = TrainConfig(epochs=3, batch_size=6, lr=1e-2, threads=1, group_by_length=False)
    weights = np.ones(12)
    weights[6:] = 0.0  # questions 3..5 weigh nothing
    (a, encoded), (b, _) = fresh(), fresh()
    train_causal_lm(a.model, encoded, config, weights)
    sequences = encoded.sequences
    other = sequences.token_ids.clone()
    answer_start = int(sequences.offsets[3]) + int(encoded.prompt_lengths[3])
    assert int(other[answer_start]) != 4
    other[answer_start] = 4  # another answer for question 3
    changed = EncodedAnswers(
        EncodedTexts(other, sequences.offsets, sequences.pad_id, sequences.max_length), encoded.prompt_lengths
    )
    train_causal_lm(b.model, changed, config, weights)
    assert weights_equal(a.model, b.model, atol=1e-6)


# --- the loop: learning, resume -------------------------------------------------------------------------


def test_a_tiny_gpt2_learns_a_toy_qa_mapping() -> None:
    loaded, encoded = fresh()
    config = TrainConfig(epochs=100, batch_size=6, lr=3e-3, threads=1, log_every_steps=20)
    events: list[ProgressEvent] = []
    report = train_causal_lm(loaded.model, encoded, config, on_progress=events.append)
    assert report.steps == 100 and not loaded.model.training
    assert events[0].loss > events[-1].loss and events[-1].new_tokens > 0
    forced = teacher_forced(loaded.model, encoded, 4)
    assert not forced.errors.any() and forced.gold_probabilities.min() > 0.5
    learner = EnsembleLearner("round-0", loaded.model, loaded.tokenizer, 1.0)
    answers = ensemble_decode_ids([learner], encoded.prompt_ids(), DecodingSettings(max_new_tokens=4))
    assert [answer.text for answer in answers] == list(COLOURS.values())


class Killed(Exception):
    pass


RESUMABLE = TrainConfig(epochs=5, batch_size=3, lr=5e-3, threads=1, checkpoint_every_steps=2, log_every_steps=1, seed=3)
# 6 questions / 3 = 2 steps per epoch -> 10 steps, checkpoints at 2, 4, 6, 8


def test_a_resumed_run_ends_with_the_uninterrupted_weights(tmp_path: Path) -> None:
    weights = np.random.default_rng(1).random(12)
    whole, encoded = fresh()
    train_causal_lm(whole.model, encoded, RESUMABLE, weights)

    first, _ = fresh()

    def kill_at_step_5(event: ProgressEvent) -> None:
        if event.step == 5:
            raise Killed

    with pytest.raises(Killed):
        train_causal_lm(first.model, encoded, RESUMABLE, weights, tmp_path, kill_at_step_5)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["step-000000002", "step-000000004"]
    assert (tmp_path / "step-000000004" / RECORD_FILE).is_file()

    torch.manual_seed(999)
    second, _ = fresh()
    resumed = train_causal_lm(second.model, encoded, RESUMABLE, weights, tmp_path)
    assert resumed.resumed_from_step == 4 and resumed.steps == 6
    assert weights_equal(second.model, whole.model, atol=1e-6)
    assert not weights_equal(first.model, whole.model, atol=1e-6), "the killed run stopped early: the test can fail"


def test_a_checkpoint_trained_under_other_token_weights_is_refused(tmp_path: Path) -> None:
    config = TrainConfig(epochs=2, batch_size=3, threads=1, checkpoint_every_steps=1)
    loaded, encoded = fresh()
    train_causal_lm(loaded.model, encoded, config, np.ones(12), tmp_path)
    with pytest.raises(TrainingError, match=r"belongs to a different run \(differs in: weights\)"):
        train_causal_lm(fresh()[0].model, encoded, config, np.arange(1.0, 13.0), tmp_path)


@pytest.mark.parametrize(
    ("config", "weights", "message"),
    [
        (TrainConfig(loss="logconf"), None, "train.loss: must be xent for a causal LM"),
        (TrainConfig(sample_weighting="resample"), None, "train.sample_weighting: must be weighted_loss or None"),
        (TrainConfig(), np.ones(11), r"token_weights: must have shape \(12,\)"),
        (TrainConfig(), -np.ones(12), "token_weights: must be finite, >= 0 and not all zero"),
        (TrainConfig(), np.zeros(12), "token_weights: must be finite, >= 0 and not all zero"),
    ],
)
def test_invalid_inputs_are_refused(config: TrainConfig, weights: np.ndarray | None, message: str) -> None:
    loaded, encoded = fresh()
    with pytest.raises(TrainingError, match=message):
        train_causal_lm(loaded.model, encoded, config, weights)


# --- teacher forcing ------------------------------------------------------------------------------------


def test_teacher_forced_matches_the_whole_batch_errors_whatever_the_batching() -> None:
    loaded, encoded = fresh(seed=4)
    model = loaded.model
    train_causal_lm(model, encoded, TrainConfig(epochs=10, batch_size=6, lr=3e-3, threads=1))  # EOS learnt, words not
    model.train()
    indices = torch.arange(len(encoded))
    batch = encoded.sequences.batch(indices)
    mask = encoded.answer_mask(indices, batch.input_ids.shape[1])
    with torch.no_grad():
        logits = model.eval()(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    model.train()
    expected = logits_token_errors(logits, batch.input_ids, mask)
    gold = torch.softmax(logits.double(), -1)[:, :-1].gather(-1, batch.input_ids[:, 1:, None])[..., 0][mask[:, 1:]]
    for batch_size in (1, 4, 64):
        forced = teacher_forced(model, encoded, batch_size)
        assert forced.errors.dtype == np.bool_ and np.array_equal(forced.errors, expected)
        np.testing.assert_allclose(forced.gold_probabilities, gold.numpy(), rtol=1e-5)
    assert model.training, "the training flag comes back"
    assert expected.any() and not expected.all(), "errors of both kinds: the test can fail"
    with pytest.raises(TrainingError, match="batch_size: must be >= 1"):
        teacher_forced(model, encoded, 0)
