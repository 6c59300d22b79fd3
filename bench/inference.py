"""Inference throughput: batched ``predict_proba`` against one example at a time.

Same tiny-weak classifier and texts; the baseline calls the model once per example (no padding at
all) under ``torch.inference_mode``. Checks both give the same probabilities, prints examples/s and
the ratio (target >= 10x). Usage: python bench/inference.py [--examples 1024] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import torch
from _common import compare, synthetic_task
from ensemw2s.trainer.models import load_classifier
from ensemw2s.trainer.training import EncodedTexts, encode_texts, predict_proba


def one_at_a_time(classifier, encoded: EncodedTexts) -> np.ndarray:
    classifier.eval()
    rows = []
    with torch.inference_mode():
        for index in range(len(encoded)):
            ids = torch.tensor([encoded.ids(index)])
            logits = classifier(ids, torch.ones_like(ids))
            rows.append(torch.softmax(logits.float(), dim=-1)[0].numpy())
    return np.stack(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--data",
        choices=["quickstart", "long"],
        default="quickstart",
        help="quickstart: the synthetic-sentiment statements the weak rounds score; long: 4-60 random words",
    )
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)

    if arguments.data == "quickstart":
        from ensemw2s.trainer.data import generate_synthetic_sentiment

        texts = [item.text for item in generate_synthetic_sentiment(arguments.examples, seed=1)]
    else:
        texts, _ = synthetic_task(arguments.examples, seed=1)
    loaded = load_classifier("tiny-weak", 2, texts, seed=0)
    torch.nn.init.normal_(loaded.model.score.weight)  # non-trivial outputs to compare
    encoded = encode_texts(loaded.tokenizer, texts, 128)

    outputs: dict[str, np.ndarray] = {}

    def batched() -> int:
        outputs["batched"] = predict_proba(loaded.model, encoded, arguments.batch_size)
        return len(encoded)

    def single() -> int:
        outputs["single"] = one_at_a_time(loaded.model, encoded)
        return len(encoded)

    results = compare({"one at a time (baseline)": single, "predict_proba": batched}, repeats=arguments.repeats)
    np.testing.assert_allclose(outputs["batched"], outputs["single"], rtol=1e-4, atol=1e-5)
    base, _ = results["one at a time (baseline)"]
    ours, _ = results["predict_proba"]
    count = len(encoded)
    mean_tokens = float(encoded.lengths.float().mean())
    print(
        f"tiny-weak, {count} {arguments.data} texts ({mean_tokens:.1f} tokens on average), batch {arguments.batch_size}, "
        f"threads {arguments.threads}; outputs match"
    )
    print(f"  one at a time (baseline)  {count / base.wall:9.1f} examples/s wall  {count / base.cpu:9.1f} per CPU-s")
    print(f"  predict_proba             {count / ours.wall:9.1f} examples/s wall  {count / ours.cpu:9.1f} per CPU-s")
    print(
        f"RATIO predict_proba / one-at-a-time: wall {base.wall / ours.wall:.1f}x, "
        f"CPU {base.cpu / ours.cpu:.1f}x (target >= 10x)"
    )


if __name__ == "__main__":
    main()
