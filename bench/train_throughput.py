"""Training throughput: our ``train_classifier`` against a plain Hugging Face ``Trainer``.

Same tiny model (the tiny-weak preset), same data, batch size, epochs, learning rate and cosine
schedule; each side is timed end to end (setup included), best of two runs, interleaved;
wall-clock and this process's CPU time (the latter is robust when other jobs share the cores). Prints examples/s and the
ratio (target >= 1.0). Usage: python bench/train_throughput.py [--examples 2048] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from _common import compare, synthetic_task
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


def run_trainer(texts, labels, config: TrainConfig, output: Path) -> int:
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    loaded = load_classifier("tiny-weak", 2, texts, seed=0)
    ids = loaded.tokenizer(texts, truncation=True, max_length=config.max_length)["input_ids"]
    dataset = [{"input_ids": row, "labels": int(label)} for row, label in zip(ids, labels, strict=True)]
    arguments = TrainingArguments(
        output_dir=str(output),
        per_device_train_batch_size=config.batch_size,
        num_train_epochs=config.epochs,
        learning_rate=config.lr,
        lr_scheduler_type="cosine",
        warmup_steps=0,
        weight_decay=config.weight_decay,
        optim="adamw_torch",
        logging_strategy="no",
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        remove_unused_columns=False,
        seed=config.seed,
    )
    trainer = Trainer(
        model=_WithLoss(loaded.model),
        args=arguments,
        train_dataset=dataset,
        data_collator=DataCollatorWithPadding(loaded.tokenizer),
    )
    trainer.train()
    return len(texts) * int(config.epochs)


def run_ours(texts, labels, config: TrainConfig) -> int:
    loaded = load_classifier("tiny-weak", 2, texts, seed=0)
    encoded = encode_texts(loaded.tokenizer, texts, config.max_length)
    report = train_classifier(loaded.model, encoded, one_hot_targets(labels, 2), config)
    return report.examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads, the same for both sides")
    parser.add_argument("--repeats", type=int, default=2)
    arguments = parser.parse_args()

    texts, labels = synthetic_task(arguments.examples)
    base = dict(epochs=arguments.epochs, batch_size=32, lr=5e-4, max_length=128, threads=arguments.threads)
    torch.set_num_threads(arguments.threads)
    ours_config = TrainConfig(**base)  # length-grouped batches (the default)
    plain_config = TrainConfig(**base, group_by_length=False)
    with tempfile.TemporaryDirectory() as output:
        results = compare(
            {
                "HF Trainer (baseline)": lambda: run_trainer(texts, labels, plain_config, Path(output)),
                "train_classifier, random batches": lambda: run_ours(texts, labels, plain_config),
                "train_classifier, length-grouped (default)": lambda: run_ours(texts, labels, ours_config),
            },
            repeats=arguments.repeats,
        )
    print(
        f"tiny-weak, {arguments.examples} examples x {arguments.epochs} epoch(s), batch 32, threads "
        f"{arguments.threads}; end to end incl. model build and tokenisation; best of {arguments.repeats}, interleaved"
    )
    baseline_timing, baseline_count = results["HF Trainer (baseline)"]
    for name, (timing, count) in results.items():
        wall_ratio = baseline_timing.wall / baseline_count / (timing.wall / count)
        cpu_ratio = baseline_timing.cpu / baseline_count / (timing.cpu / count)
        print(
            f"  {name:<44} {count / timing.wall:8.1f} examples/s wall ({wall_ratio:4.2f}x)"
            f"  {count / timing.cpu:8.1f} examples/CPU-s ({cpu_ratio:4.2f}x)"
        )
    for name in ("train_classifier, length-grouped (default)", "train_classifier, random batches"):
        timing, count = results[name]
        print(
            f"RATIO {name} / HF Trainer: wall {baseline_timing.wall / baseline_count / (timing.wall / count):.2f}, "
            f"CPU {baseline_timing.cpu / baseline_count / (timing.cpu / count):.2f} (target >= 1.0)"
        )


if __name__ == "__main__":
    main()
