"""Difficulty: column values, rank-normalised proxies, and honest k-fold cross-fitting."""

from __future__ import annotations

import numpy as np
import pytest
from ensemw2s.trainer.data import (
    BinaryItem,
    DatasetError,
    DifficultyMethod,
    DifficultyProxy,
    Example,
    difficulty_from_column,
    difficulty_from_kfold,
    difficulty_from_proxy,
    kfold_assignment,
    rank_normalise,
)
from ensemw2s.trainer.data.difficulty import proxy_score


def _examples(n: int, labels: int = 2) -> list[Example]:
    return [Example(f"e{i}", " ".join(["w"] * (i + 1)), i % labels) for i in range(n)]


def test_method_and_proxy_are_the_spec_enums():
    import ensemw2s.spec as spec

    assert DifficultyMethod is spec.DifficultyMethod and DifficultyProxy is spec.DifficultyProxy
    assert [p.value for p in DifficultyProxy] == ["length", "steps"]


def test_column_values_are_returned_in_order():
    items = [BinaryItem("a", "t", 1, 0.7), Example("b", "t", 0, 2.5)]
    np.testing.assert_array_equal(difficulty_from_column(items), [0.7, 2.5])


def test_column_names_the_first_item_without_a_value():
    items = [BinaryItem("a", "t", 1, 0.1), BinaryItem("b", "t", 1), BinaryItem("c", "t", 1)]
    with pytest.raises(DatasetError, match=r"item 'b' \(position 1\) has no difficulty value"):
        difficulty_from_column(items)


def test_column_rejects_an_empty_pool():
    with pytest.raises(DatasetError, match="no items to rate"):
        difficulty_from_column([])


def test_rank_normalise_handles_ties_and_edges():
    np.testing.assert_allclose(rank_normalise(np.array([10.0, 30.0, 20.0, 20.0])), [0.0, 1.0, 0.5, 0.5])
    np.testing.assert_array_equal(rank_normalise(np.array([4.0])), [0.0])
    assert rank_normalise(np.array([])).shape == (0,)


def test_length_proxy_ranks_longer_texts_harder():
    examples = [Example("a", "one two three", 0), Example("b", "one", 1), Example("c", "one two", 0)]
    np.testing.assert_allclose(difficulty_from_proxy(examples, "length"), [1.0, 0.0, 0.5])


def test_steps_proxy_counts_clauses():
    examples = [
        Example("a", "The ice melts.", 0),
        Example("b", "Heat rises, so the ice melts. Then water flows.", 1),
        Example("c", "The sun shines; the ice melts because it is warm.", 1),
    ]
    d = difficulty_from_proxy(examples, DifficultyProxy.STEPS)
    assert d[0] == 0.0 and np.all((d >= 0) & (d <= 1))
    assert d[1] == d[2] == 0.75  # 3 clauses each, more than 1


@pytest.mark.parametrize(
    ("text", "steps"),
    [("One step", 1), ("One step.", 1), ("Heat rises, so ice melts. Then water flows.", 3), ("a; b\nc", 3)],
)
def test_step_counts(text, steps):
    assert proxy_score(text, DifficultyProxy.STEPS) == steps
    assert proxy_score(text, DifficultyProxy.LENGTH) == len(text.split())


def test_unknown_proxy_is_rejected():
    with pytest.raises(DatasetError, match=r"unknown proxy 'tokens' \(allowed: length, steps\)"):
        difficulty_from_proxy(_examples(3), "tokens")


def test_kfold_assignment_partitions_positions():
    folds = kfold_assignment(23, 4, seed=0)
    assert sorted(int(i) for fold in folds for i in fold) == list(range(23))
    assert {len(f) for f in folds} <= {5, 6}


class RecordingFitPredict:
    """A fake weak model: remembers what it trained on and scored; p(label 1) from the id number."""

    def __init__(self, classes: int = 2) -> None:
        self.classes = classes
        self.calls: list[tuple[set[str], list[str]]] = []

    def __call__(self, train: list[Example], score: list[Example]) -> np.ndarray:
        self.calls.append(({e.id for e in train}, [e.id for e in score]))
        probs = np.full((len(score), self.classes), 0.0)
        for row, example in enumerate(score):
            p_gold = int(example.id[1:]) / 100
            probs[row, example.label] = p_gold
            probs[row, (example.label + 1) % self.classes] = 1 - p_gold
        return probs


@pytest.mark.parametrize(("k", "classes"), [(2, 2), (5, 2), (4, 3)])
def test_kfold_scores_each_example_once_with_a_model_that_never_saw_it(k, classes):
    examples = _examples(37, labels=classes)
    fake = RecordingFitPredict(classes)
    difficulty = difficulty_from_kfold(examples, k=k, seed=3, fit_predict=fake)
    assert len(fake.calls) == k
    scored = [i for _, ids in fake.calls for i in ids]
    assert sorted(scored) == sorted(e.id for e in examples)  # exactly once each
    everyone = {e.id for e in examples}
    for train_ids, score_ids in fake.calls:
        assert train_ids.isdisjoint(score_ids)  # never saw what it scores
        assert train_ids | set(score_ids) == everyone  # trained on all the other folds
    expected = [1 - int(e.id[1:]) / 100 for e in examples]
    np.testing.assert_allclose(difficulty, expected)  # d_i = 1 - p(gold_i), in the input order


def test_kfold_is_deterministic_given_seed():
    first, second, other = RecordingFitPredict(), RecordingFitPredict(), RecordingFitPredict()
    difficulty_from_kfold(_examples(20), 4, seed=1, fit_predict=first)
    difficulty_from_kfold(_examples(20), 4, seed=1, fit_predict=second)
    difficulty_from_kfold(_examples(20), 4, seed=2, fit_predict=other)
    assert first.calls == second.calls != other.calls


@pytest.mark.parametrize(
    ("n", "k", "message"),
    [(10, 1, r"needs k >= 2 \(got 1\)"), (3, 4, r"4 folds need at least 4 examples \(got 3\)")],
)
def test_kfold_rejects_bad_fold_counts(n, k, message):
    with pytest.raises(DatasetError, match=message):
        difficulty_from_kfold(_examples(n), k, seed=0, fit_predict=RecordingFitPredict())


@pytest.mark.parametrize(
    ("fit_predict", "message"),
    [
        (lambda train, score: np.zeros(len(score)), r"returned shape \(\d+,\), expected \(\d+, K\)"),
        (lambda train, score: np.zeros((len(score) + 1, 2)), "expected"),
        (lambda train, score: np.ones((len(score), 1)), "returned 1 classes but a label is 1"),
        (lambda train, score: np.full((len(score), 2), 3.0), r"values outside \[0, 1\]"),
        (lambda train, score: np.full((len(score), 2), np.nan), r"values outside \[0, 1\]"),
    ],
)
def test_kfold_rejects_malformed_probabilities(fit_predict, message):
    with pytest.raises(DatasetError, match=message):
        difficulty_from_kfold(_examples(8), 2, seed=0, fit_predict=fit_predict)
