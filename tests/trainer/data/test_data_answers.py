"""Scoring generated answers: normalisation, exact match, option-letter matching, accuracy."""

from __future__ import annotations

import pytest
from ensemw2s.trainer.data import DatasetError
from ensemw2s.trainer.data.answers import (
    answer_matches,
    exact_match,
    normalise_answer,
    option_matches,
    score_answers,
)
from ensemw2s.trainer.data.qa import QAItem

CHOICES = ("Rome", "Paris", "the Moon", "Oslo")  # Paris is option B


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("  Paris\n", "paris"),
        ("The Eiffel Tower.", "eiffel tower"),
        ("an apple, a pear", "apple pear"),
        ("Theatre", "theatre"),  # "the" only as a word
        ("don't", "don t"),
        ("don ' t", "don t"),  # as a word-level tokenizer decodes it
        ("U.S.", "u s"),
        ("vitamin A", "vitamin"),  # an article as SQuAD drops it, on both sides alike
        ("«Oui» — non…", "oui non"),  # Unicode punctuation too
        ("hot   big\tup", "hot big up"),
        ("A", ""),
        ("", ""),
    ],
)
def test_normalise_answer(text, normalised):
    assert normalise_answer(text) == normalised


@pytest.mark.parametrize(
    ("prediction", "gold", "match"),
    [
        (" paris", " Paris", True),
        ("Paris.", " Paris", True),
        ("the cold", " cold", True),
        ("Paris\nQ: next question", " Paris", True),  # cut at the newline, as decoding stops
        ("\nParis", " Paris", False),  # an empty answer
        ("Paris France", " Paris", False),
        ("cold small", " small cold", False),
        ("", " Paris", False),
    ],
)
def test_exact_match(prediction, gold, match):
    assert exact_match(prediction, gold) is match


@pytest.mark.parametrize(
    "prediction",
    ["B", " b", "B)", "(b)", "( b )", "b )", "B.", "B:", "Paris", " paris.", "B) Paris", "(b) paris", "B: the Paris"],
)
def test_option_b_is_named(prediction):
    assert option_matches(prediction, CHOICES, 1)


@pytest.mark.parametrize(
    "prediction",
    ["A", "C", "(a)", "Rome", "B) Rome", "Because", "BB", "B Paris", "b c", "", "Paris Rome", "E"],
)
def test_option_b_is_not_named(prediction):
    assert not option_matches(prediction, CHOICES, 1)


def test_option_text_is_normalised_too():
    assert option_matches("moon", CHOICES, 2) and option_matches("C", CHOICES, 2)


def test_an_empty_prediction_names_no_option_whose_text_normalises_empty():
    assert not option_matches("", ("x", "The"), 1) and not option_matches("\nB", ("x", "The"), 1)
    assert option_matches("B", ("x", "The"), 1)


def test_option_index_out_of_range_is_an_error():
    with pytest.raises(DatasetError, match=r"option matching: option index 4 is out of range \(allowed 0..3\)"):
        option_matches("B", CHOICES, 4)


def _choice_item(letter: str = "B") -> QAItem:
    return QAItem("mc", "Q: capital of France?\nChoices: ...\nA:", " Paris", CHOICES, letter)


def test_answer_matches_uses_options_for_multiple_choice_and_exact_match_otherwise():
    open_item = QAItem("open", "Q: capital of France?\nA:", " Paris")
    assert answer_matches(_choice_item(), "B") and answer_matches(_choice_item(), "Paris")
    assert not answer_matches(open_item, "B") and answer_matches(open_item, "paris")


def test_score_answers_gives_matches_in_order_and_accuracy():
    items = [_choice_item(), QAItem("o", "Q: 2+2?\nA:", " 4"), QAItem("p", "Q: 1+1?\nA:", " 2")]
    scores = score_answers(items, ["(b)", " 4\n", "3"])
    assert scores.matches == (True, True, False)
    assert scores.accuracy == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("items", "predictions", "message"),
    [
        ([_choice_item()], [], r"answer scoring: got 0 predictions for 1 items"),
        ([], [], r"answer scoring: no items to score \(got 0\)"),
    ],
)
def test_score_answers_errors(items, predictions, message):
    with pytest.raises(DatasetError, match=message):
        score_answers(items, predictions)
