"""Ensemble decoding on tiny random causal LMs: the batched cached decoder against the slow reference.

Models are random but peaked (initializer_range 0.5), so the learners disagree and greedy answers vary in
length; prompts of different lengths share batches, so left padding and dropping finished rows matter.
"""

from __future__ import annotations

import math
import random

import pytest
import torch
from ensemw2s.trainer.method.ensemble_decoding import (
    DecodingSettings,
    EnsembleLearner,
    StopReason,
    check_shared_tokenizer,
    ensemble_decode,
    ensemble_decode_ids,
    ensemble_distribution,
    reference_ensemble_decode,
    stop_tokens,
    vocabulary_fingerprint,
)
from ensemw2s.trainer.method.errors import MethodError
from ensemw2s.trainer.models.tokenizer import build_word_tokenizer
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
WORDS += ["india", "juliet", "kilo", "lima", "mike", "oscar", "papa", "romeo"]
PAD_ID, EOS_ID = 0, 3  # build_word_tokenizer: [PAD] [UNK] [CLS] [EOS]
ALPHAS = (1.0, 0.4, 2.5)


def corpus(count: int = 40, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12))) for _ in range(count)]


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    return build_word_tokenizer(corpus(), max_vocab=64)


def gpt2(vocab_size: int, seed: int) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=48,
        n_embd=32,
        n_layer=2,
        n_head=2,
        initializer_range=0.5,
        pad_token_id=PAD_ID,
        eos_token_id=EOS_ID,
        bos_token_id=EOS_ID,
    )
    return GPT2LMHeadModel(config).eval()


def llama(vocab_size: int, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=48,
        initializer_range=0.5,
        pad_token_id=PAD_ID,
        eos_token_id=EOS_ID,
        bos_token_id=EOS_ID,
    )
    return LlamaForCausalLM(config).eval()


FAMILIES = {"gpt2": gpt2, "llama": llama}


def learners(family: str, tokenizer, alphas=ALPHAS, seed: int = 0) -> list[EnsembleLearner]:
    build = FAMILIES[family]
    return [
        EnsembleLearner(f"round-{index}", build(len(tokenizer), seed + index), tokenizer, alpha)
        for index, alpha in enumerate(alphas)
    ]


def vocab_tokenizer(words: list[str], eos: str = "[EOS]") -> PreTrainedTokenizerFast:
    """A word-level tokenizer whose token ids are exactly ``words``' positions."""
    backend = Tokenizer(models.WordLevel(vocab={word: index for index, word in enumerate(words)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]", eos_token=eos)


SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[EOS]"]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_batched_cached_decoding_equals_the_reference_token_for_token(family, tokenizer):
    ensemble = learners(family, tokenizer, seed=2)  # seeds whose answers stop at EOS and at the maximum
    prompts = corpus(count=9, seed=1)
    settings = DecodingSettings(max_new_tokens=12, batch_size=4)

    fast = ensemble_decode(ensemble, prompts, settings)
    slow = reference_ensemble_decode(ensemble, prompts, settings)

    lengths = {len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) for prompt in prompts}
    assert len(lengths) > 3, "prompts of different lengths: left padding must matter"
    assert {answer.stop for answer in slow} == {StopReason.EOS, StopReason.MAX_NEW_TOKENS}, "rows finish at times"
    assert [answer.token_ids for answer in fast] == [answer.token_ids for answer in slow]
    assert [answer.stop for answer in fast] == [answer.stop for answer in slow]
    assert [answer.text for answer in fast] == [answer.text for answer in slow]
    for mine, theirs in zip(fast, slow, strict=True):
        assert mine.token_probabilities == pytest.approx(theirs.token_probabilities, abs=1e-5)
        assert all(0 < probability <= 1 for probability in mine.token_probabilities)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_batch_size_does_not_change_the_answers(family, tokenizer):
    ensemble = learners(family, tokenizer)
    prompts = corpus(count=6, seed=2)
    one = ensemble_decode(ensemble, prompts, DecodingSettings(max_new_tokens=8, batch_size=1))
    every = ensemble_decode(ensemble, prompts, DecodingSettings(max_new_tokens=8, batch_size=6))
    assert [answer.token_ids for answer in one] == [answer.token_ids for answer in every]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_one_learner_equals_its_own_greedy_generate(family, tokenizer):
    (learner,) = learners(family, tokenizer, alphas=(0.7,))
    prompts = corpus(count=6, seed=3)
    answers = ensemble_decode([learner], prompts, DecodingSettings(max_new_tokens=10))

    encoded = [tokenizer(prompt, add_special_tokens=False)["input_ids"] for prompt in prompts]
    width = max(map(len, encoded))
    input_ids = torch.tensor([[PAD_ID] * (width - len(ids)) + ids for ids in encoded])
    mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in encoded])
    with torch.inference_mode():
        generated = learner.model.generate(
            input_ids=input_ids,
            attention_mask=mask,
            max_new_tokens=10,
            do_sample=False,
            eos_token_id=EOS_ID,
            pad_token_id=PAD_ID,
        )[:, width:]
    for answer, row in zip(answers, generated.tolist(), strict=True):
        expected = row[: row.index(EOS_ID) + 1] if EOS_ID in row else row
        assert list(answer.token_ids) == expected


def test_an_alpha_that_dwarfs_the_others_gives_that_learners_answers(tokenizer):
    prompts = corpus(count=5, seed=4)
    settings = DecodingSettings(max_new_tokens=8)
    ensemble = learners("gpt2", tokenizer, alphas=(1e-6, 1e6, 1e-6))
    alone = ensemble_decode([ensemble[1]], prompts, settings)
    mixed = ensemble_decode(ensemble, prompts, settings)
    assert [answer.token_ids for answer in mixed] == [answer.token_ids for answer in alone]
    whole = ensemble_decode(learners("gpt2", tokenizer, alphas=(1.0, None, 3.0)), prompts, settings)
    assert [answer.token_ids for answer in whole] == [answer.token_ids for answer in alone]
    others = ensemble_decode([ensemble[0]], prompts, settings)
    assert [answer.token_ids for answer in others] != [answer.token_ids for answer in alone], "the test can fail"


def test_the_mixture_is_of_probabilities_not_logits():
    # Learner 1 says token 0 (0.72) or 1 (0.28); learner 2 says 2 (0.72) or 1 (0.28); weights 0.6 / 0.4.
    # Mixing probabilities picks 0 (0.432); averaging logits (a product of experts) would pick the consensus 1.
    first = torch.tensor([[0.72, 0.28, 1e-9]]).log()
    second = torch.tensor([[1e-9, 0.28, 0.72]]).log()
    mixture = ensemble_distribution([first, second], [0.6, 0.4])
    assert mixture[0].tolist() == pytest.approx([0.432, 0.28, 0.288], abs=1e-6)
    assert int(mixture.argmax()) == 0
    assert int((0.6 * first + 0.4 * second).argmax()) == 1


def test_a_mixture_of_no_learners_is_refused():
    with pytest.raises(MethodError, match="at least one learner"):
        ensemble_distribution([], [])


def observed_answer(ensemble, prompt_ids, stop_strings=()) -> tuple[int, ...]:
    """The first question's greedy answer with no stop string, to place a stop token inside it."""
    answer = ensemble_decode_ids(ensemble, prompt_ids, DecodingSettings(max_new_tokens=10, stop_strings=stop_strings))
    return answer[0].token_ids


def stop_position(tokens: tuple[int, ...], banned: set[int]) -> int:
    """The first j >= 2 whose token first occurs at j and is an ordinary word."""
    for index, token in enumerate(tokens):
        if index >= 2 and token not in banned and tokens.index(token) == index:
            return index
    raise AssertionError(f"no usable stop position in {tokens}")


@pytest.fixture(scope="module")
def words() -> list[str]:
    return SPECIAL + [f"w{index}" for index in range(28)]


@pytest.fixture(scope="module")
def stop_case(words):
    """Three llama learners, a batch of prompts (as ids), and where the first answer can be stopped."""
    ensemble = learners("llama", vocab_tokenizer(words), seed=10)
    prompt_ids = [[4, 5, 6], [7, 8, 9, 10, 11, 12], [13], [14, 15, 16, 17]]
    tokens = observed_answer(ensemble, prompt_ids)
    assert EOS_ID not in tokens[:3]
    return ensemble, prompt_ids, tokens, stop_position(tokens, {PAD_ID, 1, 2, EOS_ID})


def with_tokenizer(ensemble, tokenizer) -> list[EnsembleLearner]:
    return [EnsembleLearner(learner.name, learner.model, tokenizer, learner.alpha) for learner in ensemble]


def test_a_newline_token_stops_the_question_and_is_cut_from_the_text(stop_case, words):
    ensemble, prompt_ids, tokens, position = stop_case
    renamed = list(words)
    renamed[tokens[position]] = "\n"  # the same ids; the token the models emit at `position` is now a newline
    newline = with_tokenizer(ensemble, vocab_tokenizer(renamed))

    answers = ensemble_decode_ids(newline, prompt_ids, DecodingSettings(max_new_tokens=10))
    assert answers[0].token_ids == tokens[: position + 1]
    assert answers[0].stop is StopReason.STOP_STRING
    assert answers[0].text == " ".join(words[token] for token in tokens[:position] if token > EOS_ID)
    assert "\n" not in answers[0].text
    unchanged = ensemble_decode_ids(ensemble, prompt_ids, DecodingSettings(max_new_tokens=10))
    for answer, before in zip(answers[1:], unchanged[1:], strict=True):  # others run on, or stop at the newline
        cut = next((index for index, token in enumerate(before.token_ids) if token == tokens[position]), None)
        assert answer.token_ids == (before.token_ids if cut is None else before.token_ids[: cut + 1])


def test_a_stop_token_id_and_the_tokenizers_eos_stop_the_question(stop_case, words):
    ensemble, prompt_ids, tokens, position = stop_case
    by_id = ensemble_decode_ids(ensemble, prompt_ids, DecodingSettings(stop_token_ids=(tokens[position],)))
    assert by_id[0].token_ids == tokens[: position + 1]
    assert by_id[0].stop is StopReason.EOS

    renamed = list(words)
    renamed[tokens[position]] = "[END]"
    eos = with_tokenizer(ensemble, vocab_tokenizer(renamed, eos="[END]"))
    by_eos = ensemble_decode_ids(eos, prompt_ids)
    assert by_eos[0].token_ids == tokens[: position + 1]
    assert by_eos[0].stop is StopReason.EOS
    assert by_eos[0].text == " ".join(words[token] for token in tokens[:position] if token > EOS_ID)


def test_max_new_tokens_stops_every_question(stop_case):
    ensemble, prompt_ids, tokens, _ = stop_case
    answers = ensemble_decode_ids(ensemble, prompt_ids, DecodingSettings(max_new_tokens=2))
    assert answers[0].token_ids == tokens[:2]
    assert answers[0].stop is StopReason.MAX_NEW_TOKENS
    assert all(len(answer.token_ids) <= 2 for answer in answers)
    assert all(len(answer.token_probabilities) == len(answer.token_ids) for answer in answers)


def test_stop_strings_find_every_token_that_contains_them(words):
    tokenizer = vocab_tokenizer([*words, "\n", "end\n", "\n\n", "x"])
    model = llama(len(tokenizer), seed=0)
    stops = stop_tokens(tokenizer, [model], DecodingSettings())
    newline = {tokenizer.convert_tokens_to_ids(token) for token in ("\n", "end\n", "\n\n")}
    assert stops.string_ids == newline
    assert stops.end_ids == {EOS_ID}
    assert stops.answer_text(tokenizer, [tokenizer.convert_tokens_to_ids("w4"), min(newline)]) == "w4"
    assert stop_tokens(tokenizer, [model], DecodingSettings(stop_strings=())).string_ids == frozenset()


def test_different_tokenizers_are_refused_naming_both_learners(tokenizer):
    other = build_word_tokenizer([*corpus(seed=9), "zulu yankee"], max_vocab=64)
    assert vocabulary_fingerprint(other) != vocabulary_fingerprint(tokenizer)
    ensemble = learners("gpt2", tokenizer)
    ensemble[2] = EnsembleLearner("round-2", gpt2(len(other), 2), other, 1.0)
    with pytest.raises(
        MethodError, match=r"learners\[2\] 'round-2': its tokenizer differs from learners\[0\] 'round-0'"
    ):
        ensemble_decode(ensemble, ["alpha bravo"])
    with pytest.raises(MethodError, match="share one tokenizer"):
        check_shared_tokenizer(ensemble)


def test_a_reloaded_copy_of_the_tokenizer_is_the_same_tokenizer(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    copy = PreTrainedTokenizerFast.from_pretrained(tmp_path, padding_side="left")
    assert vocabulary_fingerprint(copy) == vocabulary_fingerprint(tokenizer)


def test_models_of_different_vocabulary_sizes_are_refused(tokenizer):
    ensemble = learners("gpt2", tokenizer)
    ensemble[1] = EnsembleLearner("round-1", gpt2(len(tokenizer) + 8, 1), tokenizer, 1.0)
    with pytest.raises(MethodError, match=r"learners\[1\] 'round-1': its model scores .* learners\[0\] 'round-0'"):
        check_shared_tokenizer(ensemble)


def test_a_tokenizer_larger_than_the_models_is_refused(tokenizer):
    small = [EnsembleLearner("round-0", gpt2(len(tokenizer) - 1, 0), tokenizer, 1.0)]
    with pytest.raises(MethodError, match="more tokens than its model scores"):
        check_shared_tokenizer(small)


@pytest.mark.parametrize("alphas", [(0.0, 0.0, 0.0), (1.0, -0.5, 2.0), (-1.0, -2.0, -3.0), (1.0, math.nan, 1.0)])
def test_alphas_that_are_zero_negative_or_nan_are_refused(alphas, tokenizer):
    with pytest.raises(MethodError, match=r"alphas\[\d\]: must be > 0"):
        ensemble_decode(learners("gpt2", tokenizer, alphas=alphas), ["alpha"])


def test_no_learners_are_refused():
    with pytest.raises(MethodError, match="at least one learner"):
        ensemble_decode([], ["alpha"])
    with pytest.raises(MethodError, match="at least one learner"):
        check_shared_tokenizer([])


def test_no_prompts_give_no_answers(tokenizer):
    assert ensemble_decode(learners("gpt2", tokenizer), []) == []
    assert reference_ensemble_decode(learners("gpt2", tokenizer), []) == []


def test_an_empty_prompt_is_refused(tokenizer):
    with pytest.raises(MethodError, match=r"prompts\[1\]: encodes to no tokens"):
        ensemble_decode(learners("gpt2", tokenizer), ["alpha", ""])


def test_prompts_longer_than_the_models_positions_are_refused(tokenizer):
    with pytest.raises(MethodError, match="exceeds the model's 48 positions"):
        ensemble_decode(learners("gpt2", tokenizer), [" ".join(["alpha"] * 40)], DecodingSettings(max_new_tokens=10))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_new_tokens": 0}, "max_new_tokens: must be >= 1"),
        ({"batch_size": 0}, "batch_size: must be >= 1"),
        ({"stop_strings": ("\n", "")}, "stop_strings: must not hold an empty string"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(MethodError, match=message):
        DecodingSettings(**settings)


def test_decoding_leaves_each_models_training_flag_as_it_was(tokenizer):
    ensemble = learners("gpt2", tokenizer, alphas=(1.0, 1.0))
    ensemble[0].model.train()
    ensemble_decode(ensemble, ["alpha bravo"], DecodingSettings(max_new_tokens=2))
    assert ensemble[0].model.training
    assert not ensemble[1].model.training
