"""synthetic-topics: deterministic, K = 4 balanced, hard items use what easy items never do."""

from __future__ import annotations

from collections import Counter

import pytest
from ensemw2s.trainer.data import (
    DatasetError,
    TopicKind,
    generate_synthetic_topics,
    load_dataset_items,
    topic_kind,
)
from ensemw2s.trainer.data.synthetic_topics import (
    COMMON_WORDS,
    DIFFICULTY_RANGES,
    INDIRECT_CLAUSES,
    RARE_WORDS,
    TOPICS,
)

EASY_KINDS = {TopicKind.EASY_PAIR, TopicKind.EASY_PLAIN}
TOPIC_OF = {word: topic for lists in (COMMON_WORDS, RARE_WORDS) for topic, words in enumerate(lists) for word in words}


@pytest.fixture(scope="module")
def items():
    return generate_synthetic_topics(4000, seed=0)


def _words(text: str) -> set[str]:
    return set(text.replace(",", " ").split())


def _is_easy(item) -> bool:
    return topic_kind(item.id) in EASY_KINDS


def test_deterministic_given_seed(items):
    assert generate_synthetic_topics(4000, seed=0) == items
    assert generate_synthetic_topics(4000, seed=1) != items


def test_texts_are_distinct_and_ids_unique(items):
    assert len({i.text for i in items}) == len({i.id for i in items}) == len(items) == 4000


def test_four_topics_balanced_within_each_side(items):
    for easy in (True, False):
        counts = Counter(i.label for i in items if _is_easy(i) == easy)
        assert counts == {topic: 500 for topic in range(len(TOPICS))}


def test_difficulty_ranges_by_kind(items):
    for item in items:
        low, high = DIFFICULTY_RANGES[topic_kind(item.id)]
        assert item.difficulty is not None and low <= item.difficulty <= high
        assert (item.difficulty <= 0.45) == _is_easy(item)
    assert {topic_kind(i.id) for i in items} == set(TopicKind)


def test_word_lists_are_disjoint_across_topics_and_sides():
    every_word = [w for words in COMMON_WORDS + RARE_WORDS for w in words]
    assert len(every_word) == len(set(every_word))
    clause_words = {w for clauses in INDIRECT_CLAUSES for clause in clauses for w in _words(clause)}
    assert clause_words.isdisjoint(every_word), "indirect clauses name no topic word"


def test_labels_follow_the_topic_words(items):
    for item in items:
        topics = {TOPIC_OF[w] for w in _words(item.text) if w in TOPIC_OF}
        if topic_kind(item.id) is TopicKind.INDIRECT:
            assert not topics and any(c in item.text for c in INDIRECT_CLAUSES[item.label]), item.text
        else:
            assert topics == {item.label}, item.text


def test_hard_items_use_what_easy_items_never_do(items):
    easy_vocabulary = {w for i in items if _is_easy(i) for w in _words(i.text)}
    assert easy_vocabulary.isdisjoint(w for words in RARE_WORDS for w in words)
    for item in items:
        kind = topic_kind(item.id)
        if kind in {TopicKind.CUED_RARE_WORD, TopicKind.RARE_WORD}:
            assert _words(item.text) & set(RARE_WORDS[item.label]), item.text
        if kind is TopicKind.CUED_RARE_WORD:
            assert _words(item.text) & set(COMMON_WORDS[item.label]), item.text


def test_common_words_are_zipfian_in_easy_items(items):
    sports = Counter(w for i in items if _is_easy(i) for w in _words(i.text) if w in COMMON_WORDS[0])
    assert sports[COMMON_WORDS[0][0]] > 10 * sports[COMMON_WORDS[0][-1]] > 0


def test_loading_by_name_generates_max_items():
    assert load_dataset_items("synthetic-topics", source=None, max_items=40, seed=3) == generate_synthetic_topics(
        40, seed=3
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 3, "seed": 0}, r"synthetic-topics: n must be >= 4 \(got 3\)"),
        ({"n": 10, "seed": 0, "hard_fraction": -0.1}, r"hard_fraction must be in \[0, 1\] \(got -0.1\)"),
        ({"n": 10**6, "seed": 0}, r"n = 1000000 needs \d+ distinct '.*' items about \w+ but only \d+ exist"),
    ],
)
def test_invalid_requests_are_rejected(kwargs, message):
    with pytest.raises(DatasetError, match=message):
        generate_synthetic_topics(**kwargs)


@pytest.mark.parametrize("bad_id", ["synthetic-sentiment/easy-plain/1", "synthetic-topics/odd/1", "synthetic-topics"])
def test_topic_kind_rejects_foreign_ids(bad_id):
    with pytest.raises(DatasetError, match="is not a synthetic-topics id"):
        topic_kind(bad_id)
