"""Training throughput: our ``train_classifier`` against a plain Hugging Face ``Trainer``, in one run.

Two comparisons, each side timed end to end (model build and tokenisation included), best of
``--repeats`` runs, interleaved; wall-clock and this process's CPU time (the latter is robust when
other jobs share the cores):

- weak: the tiny-weak preset (a 2-layer GPT-2, random init), our default length-grouped batches and
  random batches against a Trainer with random batches;
- strong: the ``minilm`` preset (pretrained all-MiniLM-L6-v2, 22.7M parameters, offline) against a
  Trainer given the same length grouping (``group_by_length=True``, spelt
  ``train_sampling_strategy="group_by_length"`` since transformers 5) and its default optimiser.

Same data, batch size, epochs, learning rate and cosine schedule on both sides. Prints examples/s and
ratios (target >= 1.0). Usage: python bench/train_throughput.py [--examples 2048] [--strong-examples 256]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from _common import Timing, compare, synthetic_task
from ensemw2s.trainer.models import Classifier, load_classifier
from ensemw2s.trainer.training import TrainConfig, encode_texts, one_hot_targets, train_classifier
from torch import nn


class _WithLoss(nn.Module):
    """The same classifier with the (loss, logits) output the Trainer expects."""

    def __init__(self, classifier: Classifier) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, input_ids, attention_mask, labels):
        logits = self.classifier(input_ids, attention_mask)
        return {"loss": nn.functional.cross_entropy(logits, labels), "logits": logits}


def run_trainer(model: str, texts, labels, config: TrainConfig, output: Path, optim: str | None) -> int:
    """A plain HF Trainer; ``optim`` None = the Trainer's default optimiser."""
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    loaded = load_classifier(model, 2, texts, seed=0)
    ids = loaded.tokenizer(texts, truncation=True, max_length=config.max_length)["input_ids"]
    dataset = [{"input_ids": row, "labels": int(label)} for row, label in zip(ids, labels, strict=True)]
    extra = {} if optim is None else {"optim": optim}
    arguments = TrainingArguments(
        output_dir=str(output),
        per_device_train_batch_size=config.batch_size,
        num_train_epochs=config.epochs,
        learning_rate=config.lr,
        lr_scheduler_type="cosine",
        warmup_steps=0,
        weight_decay=config.weight_decay,
        # transformers 5 spells the former ``group_by_length=True`` as this sampling strategy
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        logging_strategy="no",
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        remove_unused_columns=False,
        seed=config.seed,
        **extra,
    )
    trainer = Trainer(
        model=_WithLoss(loaded.model),
        args=arguments,
        train_dataset=dataset,
        data_collator=DataCollatorWithPadding(loaded.tokenizer),
    )
    trainer.train()
    return len(texts) * int(config.epochs)


def run_ours(model: str, texts, labels, config: TrainConfig) -> int:
    loaded = load_classifier(model, 2, texts, seed=0)
    encoded = encode_texts(loaded.tokenizer, texts, config.max_length)
    report = train_classifier(loaded.model, encoded, one_hot_targets(labels, 2), config)
    return report.examples


def print_comparison(title: str, results: dict[str, tuple[Timing, int]], baseline: str, label: str) -> None:
    print(title)
    baseline_timing, baseline_count = results[baseline]
    for name, (timing, count) in results.items():
        wall_ratio = baseline_timing.wall / baseline_count / (timing.wall / count)
        cpu_ratio = baseline_timing.cpu / baseline_count / (timing.cpu / count)
        print(
            f"  {name:<44} {count / timing.wall:8.1f} examples/s wall ({wall_ratio:4.2f}x, {timing.wall:6.2f} s)"
            f"  {count / timing.cpu:8.1f} examples/CPU-s ({cpu_ratio:4.2f}x, {timing.cpu:6.2f} s)"
        )
    for name, (timing, count) in results.items():
        if name == baseline:
            continue
        print(
            f"RATIO {label} {name} / HF Trainer: wall {baseline_timing.wall / baseline_count / (timing.wall / count):.2f}, "
            f"CPU {baseline_timing.cpu / baseline_count / (timing.cpu / count):.2f} (target >= 1.0)"
        )


def weak_comparison(arguments: argparse.Namespace, output: Path) -> None:
    texts, labels = synthetic_task(arguments.examples)
    base = dict(epochs=arguments.epochs, batch_size=32, lr=5e-4, max_length=128, threads=arguments.threads)
    ours_config = TrainConfig(**base)  # length-grouped batches (the default)
    plain_config = TrainConfig(**base, group_by_length=False)
    runs: dict[str, Callable[[], int]] = {
        "HF Trainer (baseline)": lambda: run_trainer("tiny-weak", texts, labels, plain_config, output, "adamw_torch"),
        "train_classifier, random batches": lambda: run_ours("tiny-weak", texts, labels, plain_config),
        "train_classifier, length-grouped (default)": lambda: run_ours("tiny-weak", texts, labels, ours_config),
    }
    print_comparison(
        f"weak: tiny-weak, {arguments.examples} examples x {arguments.epochs} epoch(s), batch 32, threads "
        f"{arguments.threads}; end to end incl. model build and tokenisation; best of {arguments.repeats}, interleaved",
        compare(runs, repeats=arguments.repeats),
        "HF Trainer (baseline)",
        "weak",
    )


def strong_comparison(arguments: argparse.Namespace, output: Path) -> None:
    texts, labels = synthetic_task(arguments.strong_examples, seed=1)
    config = TrainConfig(epochs=1, batch_size=32, lr=5e-5, max_length=128, threads=arguments.threads)
    runs: dict[str, Callable[[], int]] = {
        "HF Trainer, group_by_length (baseline)": lambda: run_trainer("minilm", texts, labels, config, output, None),
        "train_classifier, length-grouped (default)": lambda: run_ours("minilm", texts, labels, config),
    }
    print_comparison(
        f"strong: minilm, {arguments.strong_examples} examples x 1 epoch, batch 32, threads {arguments.threads}; "
        f"both length-grouped; end to end; best of {arguments.repeats}, interleaved",
        compare(runs, repeats=arguments.repeats),
        "HF Trainer, group_by_length (baseline)",
        "strong",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=2048, help="weak comparison's examples")
    parser.add_argument("--strong-examples", type=int, default=256, help="strong comparison's examples")
    parser.add_argument("--epochs", type=int, default=1, help="weak comparison's epochs")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads, the same for both sides")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", choices=("weak", "strong"), default=None, help="run one comparison")
    arguments = parser.parse_args()

    torch.set_num_threads(arguments.threads)
    with tempfile.TemporaryDirectory() as output:
        if arguments.only in (None, "weak"):
            weak_comparison(arguments, Path(output))
        if arguments.only in (None, "strong"):
            strong_comparison(arguments, Path(output))


if __name__ == "__main__":
    main()
