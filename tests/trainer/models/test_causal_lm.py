"""Causal LMs for generation: seeded builds, whole and LoRA saves (plain peft loads the adapters), refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from ensemw2s.spec.experiment import Lora
from ensemw2s.trainer.models import ModelError
from ensemw2s.trainer.models.causal_lm import (
    CAUSAL_LM_FILE,
    LoadedCausalLM,
    causal_preset_names,
    load_causal_lm,
    load_ensemble_learners,
)
from ensemw2s.trainer.training import encode_answers
from transformers import GPT2LMHeadModel

FIELD = "spec.weak.model"


def build(corpus: list[str], seed: int = 1, lora: Lora | None = None, base_seed: int = 0) -> LoadedCausalLM:
    return load_causal_lm("tiny-weak", corpus, seed, lora, base_seed=base_seed, field=FIELD)


def logits(loaded: LoadedCausalLM, text: str = "Q: Which planet is red? A: Mars.") -> torch.Tensor:
    ids = torch.tensor([loaded.tokenizer(text, add_special_tokens=False)["input_ids"]])
    loaded.model.eval()
    with torch.inference_mode():
        out: torch.Tensor = loaded.model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    return out


def perturb_adapters(loaded: LoadedCausalLM, seed: int) -> None:
    """LoRA starts as the identity (B = 0); give the adapters weight, as training would."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in loaded.model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)


def test_tiny_weak_is_a_seeded_gpt2_lm_with_its_cache_on(corpus: list[str]) -> None:
    state = torch.random.get_rng_state()
    first, again, other = build(corpus, seed=1), build(corpus, seed=1), build(corpus, seed=2)
    assert torch.equal(torch.random.get_rng_state(), state), "building leaves the global RNG alone"
    assert isinstance(first.model, GPT2LMHeadModel) and first.model.training
    assert first.model.config.use_cache, "decoding keeps one KV cache per learner"
    assert first.tokenizer.eos_token_id is not None and first.tokenizer.pad_token_id is not None
    assert torch.equal(logits(first), logits(again))
    assert not torch.equal(logits(first), logits(other))


def test_word_level_answers_end_with_an_explicit_eos_and_lose_their_newline(corpus: list[str]) -> None:
    loaded = build(corpus)
    tokenizer = loaded.tokenizer
    encoded = encode_answers(tokenizer, ["Q: Which planet is red?\nA:"], [" Mars\n"], 64)
    ids = encoded.sequences.ids(0)
    assert tokenizer.convert_ids_to_tokens(ids) == [
        "q",
        ":",
        "which",
        "planet",
        "is",
        "red",
        "?",
        "a",
        ":",
        "mars",
        "[EOS]",
    ]
    assert int(encoded.prompt_lengths[0]) == 9 and encoded.answers.lengths.tolist() == [2]


def test_a_whole_model_saves_and_reloads_to_the_same_logits(corpus: list[str], tmp_path: Path) -> None:
    loaded = build(corpus)
    loaded.save(tmp_path)
    assert {"model.safetensors", "config.json", "tokenizer.json", CAUSAL_LM_FILE} <= {
        p.name for p in tmp_path.iterdir()
    }
    back = LoadedCausalLM.load(tmp_path)
    assert not back.model.training and back.adapter_base is None
    torch.testing.assert_close(logits(back), logits(loaded), rtol=0, atol=0)
    assert back.tokenizer.get_vocab() == loaded.tokenizer.get_vocab()


def test_lora_saves_only_the_adapters_and_plain_peft_loads_them(corpus: list[str], tmp_path: Path) -> None:
    from peft import PeftModel

    loaded = build(corpus, seed=5, lora=Lora(r=4), base_seed=3)
    trainable = [name for name, p in loaded.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name for name in trainable), "the base is frozen"
    perturb_adapters(loaded, 0)
    loaded.save(tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", CAUSAL_LM_FILE, "tokenizer.json"} <= names
    assert "model.safetensors" not in names and "README.md" not in names
    header = json.loads((tmp_path / CAUSAL_LM_FILE).read_text())
    assert header["adapter_base"] == {"model": "tiny-weak", "seed": 3}

    back = LoadedCausalLM.load(tmp_path)
    torch.testing.assert_close(logits(back), logits(loaded), rtol=0, atol=1e-6)
    base = load_causal_lm("tiny-weak", corpus, 3, None, base_seed=3, field=FIELD)  # the base, rebuilt by hand
    assert not torch.allclose(logits(base), logits(loaded)), "the adapters change the output: the test can fail"
    plain = LoadedCausalLM(PeftModel.from_pretrained(base.model, str(tmp_path)), base.tokenizer)
    torch.testing.assert_close(logits(plain), logits(loaded), rtol=0, atol=1e-6)


def test_lora_rounds_of_one_replicate_share_the_base_and_differ_in_adapters(corpus: list[str], tmp_path: Path) -> None:
    rounds = [build(corpus, seed=seed, lora=Lora(r=4), base_seed=3) for seed in (10, 11)]
    for index, loaded in enumerate(rounds):
        perturb_adapters(loaded, index)
        loaded.save(tmp_path / f"round-{index}")
    learners = load_ensemble_learners([tmp_path / "round-0", tmp_path / "round-1"], [0.5, None])
    assert [learner.name for learner in learners] == ["round-0", "round-1"]
    assert learners[0].model is learners[1].model, "one base for both rounds"
    assert [learner.adapter for learner in learners] == ["learner_0", "learner_1"]
    assert [learner.alpha for learner in learners] == [0.5, None]


def test_load_ensemble_learners_needs_one_alpha_per_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"alphas: must hold one alpha per directory \(2\) \(got 1\)"):
        load_ensemble_learners([tmp_path / "a", tmp_path / "b"], [1.0])


@pytest.mark.parametrize("encoder", ["tiny-strong", "minilm"])
def test_an_encoder_preset_is_refused_naming_the_field_and_the_causal_presets(encoder: str, corpus: list[str]) -> None:
    with pytest.raises(ModelError, match=rf"^{FIELD}: preset '{encoder}' is an encoder") as error:
        load_causal_lm(encoder, corpus, 0, None, base_seed=0, field=FIELD)
    assert "smollm2-135m, tiny-weak" in str(error.value)
    assert causal_preset_names() == ("smollm2-135m", "tiny-weak")


def test_an_encoder_directory_is_refused(corpus: list[str], tmp_path: Path) -> None:
    from ensemw2s.trainer.models import build_word_tokenizer
    from transformers import BertConfig, BertForMaskedLM

    BertForMaskedLM(
        BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    ).save_pretrained(tmp_path)
    build_word_tokenizer(corpus, 64).save_pretrained(tmp_path)
    with pytest.raises(ModelError, match=rf"^{FIELD}: .* is an encoder \(bert\), which cannot generate answers"):
        load_causal_lm(str(tmp_path), None, 0, None, base_seed=0, field=FIELD)


def test_a_hub_id_that_cannot_load_names_the_offline_presets(offline_hub: None) -> None:
    with pytest.raises(ModelError, match=rf"^{FIELD}: cannot load 'nobody/no-such-model'.*offline presets"):
        load_causal_lm("nobody/no-such-model", None, 0, None, base_seed=0, field=FIELD)


def test_tiny_weak_without_a_corpus_is_refused() -> None:
    with pytest.raises(ModelError, match=rf"^{FIELD}: preset 'tiny-weak' builds its word-level tokenizer"):
        load_causal_lm("tiny-weak", None, 0, None, base_seed=0, field=FIELD)


def test_an_adapted_model_without_its_base_is_never_saved(corpus: list[str], tmp_path: Path) -> None:
    loaded = build(corpus, lora=Lora(r=4))
    with pytest.raises(ModelError, match="adapter_base: is not set on an adapted causal LM"):
        LoadedCausalLM(loaded.model, loaded.tokenizer).save(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "is not a saved causal LM: causal_lm.json is missing"),
        ("{not json", "is not a causal LM header of format_version 1"),
        ('{"format_version": 1, "adapter_base": {"model": "tiny-weak"}}', "adapter_base must name the base model"),
    ],
)
def test_a_missing_or_damaged_header_is_named(content: str | None, message: str, tmp_path: Path) -> None:
    if content is not None:
        (tmp_path / CAUSAL_LM_FILE).write_text(content)
    with pytest.raises(ModelError, match=message):
        LoadedCausalLM.load(tmp_path)
    with pytest.raises(ModelError, match=message):
        load_ensemble_learners([tmp_path], [1.0])


def test_damaged_saved_weights_are_named(corpus: list[str], tmp_path: Path) -> None:
    whole, adapted = build(corpus), build(corpus, lora=Lora(r=4))
    whole.save(tmp_path / "whole")
    adapted.save(tmp_path / "adapted")
    for path in (tmp_path / "whole" / "model.safetensors", tmp_path / "adapted" / "adapter_model.safetensors"):
        path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelError, match="whole"):
        LoadedCausalLM.load(tmp_path / "whole")
    with pytest.raises(ModelError, match="cannot load the LoRA adapters onto their base"):
        LoadedCausalLM.load(tmp_path / "adapted")
