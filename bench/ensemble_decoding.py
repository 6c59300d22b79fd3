"""Ensemble decoding throughput: the batched cached decoder against the slow reference and against T generates.

T random tiny GPT-2 learners (the tiny-weak preset's size) over a word-level vocabulary of a few thousand
words decode N prompts of varied length. Three sides, measured in the same run, interleaved:

- ``reference`` (baseline): `reference_ensemble_decode`, per question, per learner, the whole prefix every
  step, no cache;
- ``T x generate``: every learner greedy alone through ``model.generate`` (batched, KV cache): what the T
  models cost when each decodes separately;
- ``ensemble_decode``: the batched cached ensemble decoder.

Nothing stops a question early (no EOS, no stop string), so every side decodes N x max-new-tokens tokens per
model. Checks the ensemble decoder and the reference give the same tokens, prints tokens/s (answer tokens
of the N questions per second; each token costs T model evaluations on every side) and both ratios
(target >= 5x against the reference). Usage: python bench/ensemble_decoding.py [--learners 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import torch
from _common import compare
from ensemw2s.trainer.method.ensemble_decoding import (
    DecodingSettings,
    EnsembleLearner,
    encode_prompts,
    ensemble_decode,
    reference_ensemble_decode,
)
from ensemw2s.trainer.models.tokenizer import build_word_tokenizer
from transformers import GPT2Config, GPT2LMHeadModel


def prompts_and_corpus(count: int, vocabulary: int, seed: int) -> tuple[list[str], list[str]]:
    """Prompts of 8-48 words, and a corpus in which each of ``vocabulary`` words occurs."""
    rng = np.random.default_rng(seed)
    words = [f"w{index}" for index in range(vocabulary)]
    prompts = [" ".join(rng.choice(words, int(rng.integers(8, 49)))) for _ in range(count)]
    return prompts, [" ".join(words), *prompts]


def tiny_gpt2(vocab_size: int, seed: int) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=128,
        n_embd=64,
        n_layer=2,
        n_head=2,
        n_inner=256,
        activation_function="gelu",
        initializer_range=0.5,  # peaked, disagreeing learners: the mixture matters
        pad_token_id=0,
        bos_token_id=None,
        eos_token_id=None,  # nothing stops early: every side decodes the same number of tokens
    )
    return GPT2LMHeadModel(config).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learners", type=int, default=4)
    parser.add_argument("--questions", type=int, default=48)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--vocabulary", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)

    prompts, corpus = prompts_and_corpus(arguments.questions, arguments.vocabulary, seed=1)
    tokenizer = build_word_tokenizer(corpus, max_vocab=arguments.vocabulary + 4)
    tokenizer.eos_token = None
    alphas = np.random.default_rng(2).uniform(0.2, 2.0, arguments.learners)
    learners = [
        EnsembleLearner(f"round-{index}", tiny_gpt2(len(tokenizer), seed=index), tokenizer, float(alpha))
        for index, alpha in enumerate(alphas)
    ]
    settings = DecodingSettings(
        max_new_tokens=arguments.max_new_tokens, stop_strings=(), batch_size=arguments.batch_size
    )
    encoded = encode_prompts(tokenizer, prompts, settings)
    width = max(map(len, encoded))
    input_ids = torch.tensor([[0] * (width - len(ids)) + ids for ids in encoded])
    mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in encoded])
    outputs: dict[str, list[tuple[int, ...]]] = {}

    def reference() -> int:
        answers = reference_ensemble_decode(learners, prompts, settings)
        outputs["reference"] = [answer.token_ids for answer in answers]
        return sum(len(answer.token_ids) for answer in answers)

    def separate() -> int:
        count = 0
        with torch.inference_mode():
            for learner in learners:
                for start in range(0, len(prompts), arguments.batch_size):
                    rows = slice(start, start + arguments.batch_size)
                    generated = learner.model.generate(
                        input_ids=input_ids[rows],
                        attention_mask=mask[rows],
                        max_new_tokens=arguments.max_new_tokens,
                        do_sample=False,
                        pad_token_id=0,
                    )
                    count += generated[:, width:].numel()
        return count // len(learners)  # answer tokens per learner: each costs T model evaluations, as ours

    def ensemble() -> int:
        answers = ensemble_decode(learners, prompts, settings)
        outputs["ensemble"] = [answer.token_ids for answer in answers]
        return sum(len(answer.token_ids) for answer in answers)

    sides = {"reference (baseline)": reference, "T x generate": separate, "ensemble_decode": ensemble}
    results = compare(sides, repeats=arguments.repeats)
    assert outputs["ensemble"] == outputs["reference"], "the batched decoder and the reference disagree"

    mean_prompt = float(np.mean([len(ids) for ids in encoded]))
    print(
        f"T={arguments.learners} tiny GPT-2 learners (d=64, 2 layers, vocabulary {len(tokenizer)}), "
        f"{arguments.questions} prompts ({mean_prompt:.1f} tokens on average), {arguments.max_new_tokens} new tokens, "
        f"batch {arguments.batch_size}, threads {arguments.threads}; ensemble tokens match the reference"
    )
    for name, (timing, count) in results.items():
        print(f"  {name:22s} {count / timing.wall:9.1f} tokens/s wall  {count / timing.cpu:9.1f} per CPU-s")
    base, base_count = results["reference (baseline)"]
    apart, apart_count = results["T x generate"]
    ours, our_count = results["ensemble_decode"]

    def ratio(other, other_count) -> str:
        wall = (our_count / ours.wall) / (other_count / other.wall)
        cpu = (our_count / ours.cpu) / (other_count / other.cpu)
        return f"wall {wall:.1f}x, CPU {cpu:.1f}x"

    print(f"RATIO ensemble_decode / reference: {ratio(base, base_count)} (target >= 5x)")
    print(f"RATIO ensemble_decode / T x generate: {ratio(apart, apart_count)} (1x: mixing costs what T decodes cost)")


if __name__ == "__main__":
    main()
