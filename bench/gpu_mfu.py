"""GPU training efficiency: examples/s and MFU of ``train_classifier`` on a GPT-2-medium-sized classifier.

CUDA only (prints "no CUDA device: skipped" and exits 0 otherwise). A GPT-2-medium config (24
layers, d=1024, 16 heads; random weights) with the last-token head, bf16 autocast, batch 32, sequence
length 512, trained through the same ``train_classifier`` for a fixed number of steps. The first
``--warmup`` steps are excluded from the timing.

FLOPs per token = 6 * N (N = parameters excluding the embedding tables: a lookup costs nothing and
the classifier has no LM head) + 12 * layers * seq * d (attention scores and values, forward and
backward; causal masking is not subtracted, as in PaLM's MFU). MFU = achieved FLOP/s / the card's
dense bf16 peak. ``--smoke`` runs a tiny config on the CPU to check the script itself.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from ensemw2s.trainer.models import LastTokenClassifier
from ensemw2s.trainer.training import EncodedTexts, ProgressEvent, TrainConfig, train_classifier
from transformers import AutoModel, GPT2Config

PEAK_BF16_FLOPS = (  # dense, no sparsity; matched against torch.cuda.get_device_name()
    ("H200", 989e12),
    ("H100 PCIe", 756e12),
    ("H100", 989e12),  # SXM / HBM3
    ("A100", 312e12),
    ("L4", 121e12),
)


def peak_flops(device_name: str) -> float | None:
    for key, peak in PEAK_BF16_FLOPS:
        if key in device_name:
            return peak
    return None


def random_encoded(examples: int, seq_len: int, vocab: int, seed: int) -> EncodedTexts:
    generator = torch.Generator().manual_seed(seed)
    token_ids = torch.randint(0, vocab, (examples * seq_len,), generator=generator, dtype=torch.int32)
    offsets = torch.arange(examples + 1, dtype=torch.int64) * seq_len
    return EncodedTexts(token_ids, offsets, pad_id=0, max_length=seq_len)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--smoke", action="store_true", help="tiny config on the CPU (checks the script)")
    arguments = parser.parse_args()
    if not torch.cuda.is_available() and not arguments.smoke:
        print("no CUDA device: skipped")
        return

    if arguments.smoke:
        config = GPT2Config(n_embd=64, n_layer=2, n_head=2, n_positions=arguments.seq_len, vocab_size=1000)
        precision, device_name = "no", "cpu (smoke)"
    else:
        config = GPT2Config(n_embd=1024, n_layer=24, n_head=16, n_positions=1024, vocab_size=50257)
        precision, device_name = "bf16", torch.cuda.get_device_name()
        torch.backends.cuda.matmul.allow_tf32 = True
    config.use_cache = False
    torch.manual_seed(0)
    classifier = LastTokenClassifier(AutoModel.from_config(config), 2)
    total = sum(p.numel() for p in classifier.parameters())
    embeddings = sum(p.numel() for p in classifier.backbone.get_input_embeddings().parameters())
    embeddings += config.n_positions * config.n_embd
    non_embedding = total - embeddings

    examples = arguments.steps * arguments.batch_size
    encoded = random_encoded(examples, arguments.seq_len, config.vocab_size, seed=0)
    labels = np.random.default_rng(0).integers(0, 2, examples)
    targets = np.eye(2, dtype=np.float32)[labels]
    train = TrainConfig(
        epochs=1,
        batch_size=arguments.batch_size,
        lr=1e-5,
        max_length=arguments.seq_len,
        mixed_precision=precision,
        log_every_steps=1,
        group_by_length=False,
        seed=0,
        threads=1 if arguments.smoke else None,
    )
    marks: dict[int, float] = {}

    def mark(event: ProgressEvent) -> None:  # each event synchronises the device (loss.item())
        marks[event.step] = time.perf_counter()

    report = train_classifier(classifier, encoded, targets, train, on_progress=mark)
    timed_steps = arguments.steps - arguments.warmup
    seconds = marks[arguments.steps] - marks[arguments.warmup]
    examples_per_second = timed_steps * arguments.batch_size / seconds
    tokens_per_second = examples_per_second * arguments.seq_len
    flops_per_token = 6 * non_embedding + 12 * config.n_layer * arguments.seq_len * config.n_embd
    achieved = flops_per_token * tokens_per_second
    peak = None if arguments.smoke else peak_flops(device_name)

    print(f"device: {device_name}; precision {precision}; final loss {report.final_loss:.4f}")
    print(
        f"model: {total / 1e6:.1f}M parameters ({non_embedding / 1e6:.1f}M non-embedding), "
        f"batch {arguments.batch_size} x seq {arguments.seq_len}, {timed_steps} timed steps"
    )
    print(f"examples/s: {examples_per_second:.1f}   tokens/s: {tokens_per_second:.0f}")
    print(f"achieved: {achieved / 1e12:.1f} TFLOP/s")
    if peak is None:
        print("MFU: n/a (peak bf16 FLOP/s of this device not in the table)")
    else:
        print(f"MFU: {achieved / peak:.1%} of {peak / 1e12:.0f} TFLOP/s peak bf16")


if __name__ == "__main__":
    main()
