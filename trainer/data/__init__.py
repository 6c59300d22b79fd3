"""Datasets for EnsemW2S: loading, binary or K-way formatting, difficulty, and easy-to-hard splits.

Typical use (the prepare stage)::

    items = load_dataset_items("sciq", source=None, max_items=14000, seed=0)
    examples, num_classes = format_examples(items, ExampleFormat.BINARY, num_classes=None, seed=0)
    splits = split_pool(spec.dataset, examples, num_classes, seed=0)  # rates difficulty, splits, checks labels

Before that, ``preflight.dataset_problems(spec)`` finds what would fail here, without training.
"""

from ensemw2s.spec import DifficultyMethod, DifficultyProxy, ExampleFormat, SplitSizes

from .classes import check_split_labels, count_classes
from .difficulty import (
    FitPredict,
    difficulty_from_column,
    difficulty_from_kfold,
    difficulty_from_proxy,
    kfold_assignment,
    rank_normalise,
)
from .errors import DatasetError
from .formatting import (
    choice_count,
    choices_text,
    format_examples,
    multiple_choice_text,
    to_binary_examples,
    to_choice_examples,
)
from .hub import load_hub_items
from .loading import load_dataset_items
from .local import load_local_items
from .preparation import split_pool
from .records import BinaryItem, Example, Item, LabelledItem, MultipleChoiceItem
from .registry import (
    LOCAL,
    SYNTHETIC_SENTIMENT,
    SYNTHETIC_TOPICS,
    DatasetEntry,
    dataset_names,
    get_dataset,
    hub_dataset_names,
)
from .splits import SPLIT_NAMES, Splits, check_pool, easy_to_hard_split, random_split
from .synthetic import (
    DIFFICULTY_RANGES,
    SyntheticKind,
    generate_synthetic_sentiment,
    synthetic_kind,
)
from .synthetic_lexicon import SyntheticLexicon, synthetic_lexicon
from .synthetic_topics import TopicKind, generate_synthetic_topics, topic_kind

__all__ = [
    "DIFFICULTY_RANGES",
    "LOCAL",
    "SPLIT_NAMES",
    "SYNTHETIC_SENTIMENT",
    "SYNTHETIC_TOPICS",
    "BinaryItem",
    "DatasetEntry",
    "DatasetError",
    "DifficultyMethod",
    "DifficultyProxy",
    "Example",
    "ExampleFormat",
    "FitPredict",
    "Item",
    "LabelledItem",
    "MultipleChoiceItem",
    "SplitSizes",
    "Splits",
    "SyntheticKind",
    "SyntheticLexicon",
    "TopicKind",
    "check_pool",
    "check_split_labels",
    "choice_count",
    "choices_text",
    "count_classes",
    "dataset_names",
    "difficulty_from_column",
    "difficulty_from_kfold",
    "difficulty_from_proxy",
    "easy_to_hard_split",
    "format_examples",
    "generate_synthetic_sentiment",
    "generate_synthetic_topics",
    "get_dataset",
    "hub_dataset_names",
    "kfold_assignment",
    "load_dataset_items",
    "load_hub_items",
    "load_local_items",
    "multiple_choice_text",
    "random_split",
    "rank_normalise",
    "split_pool",
    "synthetic_kind",
    "synthetic_lexicon",
    "to_binary_examples",
    "to_choice_examples",
    "topic_kind",
]
