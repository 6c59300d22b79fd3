"""synthetic-sentiment: deterministic, balanced, disjoint lexicons, labels follow word meaning."""

from __future__ import annotations

from collections import Counter

import pytest
from ensemw2s.trainer.data import (
    DIFFICULTY_RANGES,
    DatasetError,
    SyntheticKind,
    generate_synthetic_sentiment,
    synthetic_kind,
    synthetic_lexicon,
)

LEXICON = synthetic_lexicon()
EASY_KINDS = {SyntheticKind.EASY_PLAIN, SyntheticKind.EASY_INTENSIFIED}


@pytest.fixture(scope="module")
def items():
    return generate_synthetic_sentiment(6000, seed=0)


def _words(text: str) -> list[str]:
    return text.replace(",", " ").split()


def _is_easy(item) -> bool:
    return synthetic_kind(item.id) in EASY_KINDS


def test_deterministic_given_seed(items):
    assert generate_synthetic_sentiment(6000, seed=0) == items
    assert generate_synthetic_sentiment(6000, seed=1) != items


def test_texts_are_distinct_and_ids_unique(items):
    assert len({i.text for i in items}) == len(items) == 6000
    assert len({i.id for i in items}) == len(items)


def test_rich_enough_for_twenty_thousand_distinct_items():
    many = generate_synthetic_sentiment(20_000, seed=2)
    assert len({i.text for i in many}) == 20_000


def test_balanced_within_each_side(items):
    for easy in (True, False):
        side = [i for i in items if _is_easy(i) == easy]
        assert len(side) == 3000
        assert sum(i.label for i in side) == 1500


def test_hard_fraction_sets_the_side_sizes():
    items = generate_synthetic_sentiment(101, seed=0, hard_fraction=0.3)
    assert sum(not _is_easy(i) for i in items) == 30
    assert {synthetic_kind(i.id) for i in generate_synthetic_sentiment(40, seed=0, hard_fraction=0.0)} <= EASY_KINDS


def test_difficulty_ranges_by_kind(items):
    for item in items:
        low, high = DIFFICULTY_RANGES[synthetic_kind(item.id)]
        assert item.difficulty is not None and low <= item.difficulty <= high
        if _is_easy(item):
            assert 0.0 <= item.difficulty <= 0.45
        else:
            assert 0.55 <= item.difficulty <= 1.0
    order = [
        SyntheticKind.CUED_HARD_SYNONYM,
        SyntheticKind.HARD_SYNONYM,
        SyntheticKind.NEGATION,
        SyntheticKind.NEGATED_HARD_SYNONYM,
    ]
    lows = [DIFFICULTY_RANGES[k][0] for k in order]
    assert lows == sorted(lows) and len(set(lows)) == len(lows)
    assert DIFFICULTY_RANGES[SyntheticKind.AGREEING] == DIFFICULTY_RANGES[SyntheticKind.HARD_SYNONYM]
    assert DIFFICULTY_RANGES[SyntheticKind.CONTRAST] == DIFFICULTY_RANGES[SyntheticKind.NEGATED_HARD_SYNONYM]


def test_hard_side_is_a_spread_with_negations_a_minority(items):
    counts = Counter(synthetic_kind(i.id) for i in items if not _is_easy(i))
    negated = counts[SyntheticKind.NEGATION] + counts[SyntheticKind.NEGATED_HARD_SYNONYM]
    assert negated / 3000 <= 0.2
    partial = counts[SyntheticKind.CUED_HARD_SYNONYM] + counts[SyntheticKind.AGREEING]
    assert 0.3 <= partial / 3000 <= 0.7  # items where an easy cue gives a weak model partial signal


def test_every_kind_occurs(items):
    assert {synthetic_kind(i.id) for i in items} == set(SyntheticKind)


def test_no_hard_word_occurs_in_any_easy_item(items):
    hard_only = LEXICON.hard_only_words
    easy_vocabulary = {w for i in items if _is_easy(i) for w in _words(i.text)}
    assert easy_vocabulary.isdisjoint(hard_only)
    assert set(LEXICON.hard_positive + LEXICON.hard_negative).isdisjoint(LEXICON.easy_positive + LEXICON.easy_negative)
    subject_words = {w for s in LEXICON.subjects for w in s.split()}
    assert subject_words.isdisjoint(hard_only)


def test_hard_items_use_what_easy_items_never_do(items):
    hard_only = LEXICON.hard_only_words
    for item in items:
        if not _is_easy(item):
            assert set(_words(item.text)) & hard_only, item.text


def test_labels_follow_word_meaning_and_negations_flip(items):
    negators = set(LEXICON.negators)
    for item in items:
        words = _words(item.text)
        polarity = LEXICON.polarity(words[-1])  # every template ends with the deciding adjective
        negated = bool(negators & set(words))
        assert item.label == (1 - polarity if negated else polarity), item.text
        kind = synthetic_kind(item.id)
        assert negated == (kind in {SyntheticKind.NEGATION, SyntheticKind.NEGATED_HARD_SYNONYM})


def _adjectives_in(text: str) -> list[str]:
    adjectives = set(LEXICON.easy_positive + LEXICON.easy_negative + LEXICON.hard_positive + LEXICON.hard_negative)
    return [w for w in _words(text) if w in adjectives]


def test_cued_items_pair_an_easy_cue_with_a_hard_synonym_of_the_same_polarity(items):
    cued = [i for i in items if synthetic_kind(i.id) is SyntheticKind.CUED_HARD_SYNONYM]
    assert cued
    easy, hard = set(LEXICON.easy_positive + LEXICON.easy_negative), set(LEXICON.hard_positive + LEXICON.hard_negative)
    for item in cued:
        a, b = _adjectives_in(item.text)
        assert len({a, b} & easy) == 1 and len({a, b} & hard) == 1, item.text
        assert LEXICON.polarity(a) == LEXICON.polarity(b) == item.label


def test_agreeing_clauses_share_the_label_polarity(items):
    agreeing = [i for i in items if synthetic_kind(i.id) is SyntheticKind.AGREEING]
    assert agreeing
    for item in agreeing:
        first, second = item.text.split(", and ")
        [a1] = _adjectives_in(first)
        [a2] = _adjectives_in(second)
        assert LEXICON.polarity(a1) == LEXICON.polarity(a2) == item.label


def test_easy_adjectives_are_zipfian_in_easy_items_and_uniform_in_hard_ones(items):
    easy_words = set(LEXICON.easy_positive)
    in_easy = Counter(w for i in items if _is_easy(i) for w in _words(i.text) if w in easy_words)
    in_cued = Counter(
        w
        for i in items
        if synthetic_kind(i.id) is SyntheticKind.CUED_HARD_SYNONYM
        for w in _words(i.text)
        if w in easy_words
    )
    common, rare = LEXICON.easy_positive[0], LEXICON.easy_positive[-1]
    assert in_easy[common] > 20 * in_easy[rare] > 0  # rank 1 vs rank 22 under Zipf
    assert in_cued[common] < 2 * in_cued[rare]  # uniform: the rare words are common on the hard side


def test_contrast_clauses_disagree_and_the_second_decides(items):
    contrasts = [i for i in items if synthetic_kind(i.id) is SyntheticKind.CONTRAST]
    assert contrasts
    adjectives = set(LEXICON.easy_positive + LEXICON.easy_negative + LEXICON.hard_positive + LEXICON.hard_negative)
    for item in contrasts:
        first, second = item.text.split(", but ")
        [a1] = [w for w in first.split() if w in adjectives]
        [a2] = [w for w in second.split() if w in adjectives]
        assert LEXICON.polarity(a1) != LEXICON.polarity(a2)
        assert item.label == LEXICON.polarity(a2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 1, "seed": 0}, r"n must be >= 2 \(got 1\)"),
        ({"n": 10, "seed": 0, "hard_fraction": 1.5}, r"hard_fraction must be in \[0, 1\] \(got 1.5\)"),
        ({"n": 10**6, "seed": 0}, r"n = 1000000 needs \d+ distinct '.*' items with label \d but only \d+ exist"),
    ],
)
def test_invalid_requests_are_rejected(kwargs, message):
    with pytest.raises(DatasetError, match=message):
        generate_synthetic_sentiment(**kwargs)


@pytest.mark.parametrize("bad_id", ["sciq/train/1", "synthetic-sentiment/odd/1", "synthetic-sentiment"])
def test_synthetic_kind_rejects_foreign_ids(bad_id):
    with pytest.raises(DatasetError, match="is not a synthetic-sentiment id"):
        synthetic_kind(bad_id)
