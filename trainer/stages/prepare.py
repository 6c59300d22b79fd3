"""Stage ``prepare``: load the dataset, rate difficulty, split, tokenise once for each model.

Writes ``examples.json`` (per split: ids, texts, labels, difficulty; and ``numClasses``, K),
``labels.npz`` and one token file per model role and split that every later stage reuses.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ensemw2s.spec import DifficultyMethod

from ..data import format_examples, load_dataset_items
from ..data.preparation import split_pool
from ..data.records import Example
from ..preflight import check_preflight
from .context import StageContext, StageResult
from .prepared import BINARY, ROLES, encode_splits, save_prepared, split_texts


def _kfold_fit_predict(context: StageContext, corpus: Sequence[str], num_classes: int):  # type: ignore[no-untyped-def]
    """Train the weak model on k-1 folds and score the held-out fold (difficulty by cross-fitting)."""
    from ..models import load_classifier
    from ..training import encode_texts, predict_proba, train_classifier
    from .training_config import weak_train_config

    spec = context.spec
    fold = {"n": 0}

    def fit_predict(train: Sequence[Example], score: Sequence[Example]) -> np.ndarray:
        fold["n"] += 1
        context.progress.stage_started(context.stage.name, f"difficulty: cross-fitting fold {fold['n']}")
        learner = load_classifier(spec.weak.model, num_classes, corpus, context.seed, spec.weak.head)
        config = weak_train_config(spec, context.seed + fold["n"])
        encoded = encode_texts(learner.tokenizer, [e.text for e in train], config.max_length)
        targets = np.eye(num_classes, dtype=np.float32)[[e.label for e in train]]
        train_classifier(learner.model, encoded, targets, config)
        scored = encode_texts(learner.tokenizer, [e.text for e in score], config.max_length)
        return predict_proba(learner.model, scored, spec.weak.training.eval_batch_size)

    return fit_predict


def run(context: StageContext) -> StageResult:
    spec, seed = context.spec, context.seed
    dataset = spec.dataset
    # Every data and model problem of this seed at once, before the weak rounds (permanent errors). Its own seed
    # only: each seed's prepare checks its split, and `w2sctl run` checked them all before any stage.
    check_preflight(spec.model_copy(update={"seeds": [seed]}))
    context.progress.stage_started(context.stage.name, f"loading {dataset.source or dataset.name}")
    items = load_dataset_items(dataset.name, dataset.source, dataset.max_items, seed)
    examples, num_classes = format_examples(items, dataset.format, dataset.num_classes, seed)
    kfold = dataset.difficulty.method is DifficultyMethod.KFOLD
    fit_predict = _kfold_fit_predict(context, [e.text for e in examples], num_classes) if kfold else None
    splits = split_pool(dataset, examples, num_classes, seed, fit_predict)
    context.progress.stage_started(context.stage.name, "tokenising once for the weak and strong models")
    tokens = {role: encode_splits(spec, role, splits, seed) for role in ROLES}
    save_prepared(context.workspace, splits, tokens, num_classes)
    texts = split_texts(splits)
    return StageResult(
        metrics={
            "items": float(len(examples)),
            "numClasses": float(num_classes),
            **{f"{name}Examples": float(len(texts[name])) for name in texts},
            **({"easyPositiveRate": float(np.mean([e.label for e in splits.easy]))} if num_classes == BINARY else {}),
        }
    )
