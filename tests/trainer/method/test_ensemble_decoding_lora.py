"""LoRA learners on one shared base decode exactly as the reference and as separately loaded whole models."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from ensemw2s.spec.experiment import Lora
from ensemw2s.trainer.method.ensemble_decoding import (
    DecodingSettings,
    EnsembleLearner,
    StopReason,
    ensemble_decode,
    reference_ensemble_decode,
)
from ensemw2s.trainer.models.causal_lm import LoadedCausalLM, load_causal_lm, load_ensemble_learners

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
ALPHAS = (1.0, 0.4, 2.5)


def corpus(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 10))) for _ in range(count)]


@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three adapter rounds on one tiny-weak base, each with adapters of real weight, saved."""
    root = tmp_path_factory.mktemp("rounds")
    directories = []
    for index in range(len(ALPHAS)):
        loaded = load_causal_lm("tiny-weak", corpus(40, 0), 20 + index, Lora(r=4), base_seed=7, field="model")
        generator = torch.Generator().manual_seed(index)
        with torch.no_grad():
            for name, parameter in loaded.model.named_parameters():
                if "lora_B" in name:
                    parameter.copy_(torch.randn(parameter.shape, generator=generator) * 2.0)
        directory = root / f"round-{index}"
        loaded.save(directory)
        directories.append(directory)
    return directories


def tokens(answers) -> list[tuple[int, ...]]:
    return [answer.token_ids for answer in answers]


def test_shared_base_lora_decoding_equals_the_reference_and_separate_models(rounds: list[Path]) -> None:
    learners = load_ensemble_learners(rounds, list(ALPHAS))
    assert len({id(learner.model) for learner in learners}) == 1, "one base, three adapters"
    prompts = corpus(9, 1)
    settings = DecodingSettings(max_new_tokens=10, batch_size=4)

    fast = ensemble_decode(learners, prompts, settings)
    slow = reference_ensemble_decode(learners, prompts, settings)
    assert tokens(fast) == tokens(slow)
    for mine, theirs in zip(fast, slow, strict=True):
        assert mine.token_probabilities == pytest.approx(theirs.token_probabilities, abs=1e-5)

    separate = []  # every round on its own base, loaded through the plain single-model path
    for directory, alpha in zip(rounds, ALPHAS, strict=True):
        loaded = LoadedCausalLM.load(directory)
        separate.append(EnsembleLearner(directory.name, loaded.model, loaded.tokenizer, alpha))
    assert tokens(reference_ensemble_decode(separate, prompts, settings)) == tokens(fast)
    assert {answer.stop for answer in fast} >= {StopReason.MAX_NEW_TOKENS}

    alone = [tokens(ensemble_decode([learner], prompts, settings)) for learner in learners]
    assert len({tuple(answer) for answer in alone}) == len(learners), "the adapters differ: the test can fail"


def test_lora_and_whole_learners_mix(rounds: list[Path], tmp_path: Path) -> None:
    whole = load_causal_lm("tiny-weak", corpus(40, 0), 99, None, base_seed=99, field="model")
    whole.save(tmp_path / "whole")
    learners = load_ensemble_learners([rounds[0], tmp_path / "whole", rounds[1]], [1.0, 0.8, 1.5])
    assert [learner.adapter for learner in learners] == ["learner_0", None, "learner_2"]
    prompts = corpus(5, 2)
    settings = DecodingSettings(max_new_tokens=6)
    assert tokens(ensemble_decode(learners, prompts, settings)) == tokens(
        reference_ensemble_decode(learners, prompts, settings)
    )
