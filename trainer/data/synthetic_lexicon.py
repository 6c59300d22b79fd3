"""The word lists of the synthetic-sentiment dataset.

The easy lexicon and the hard lexicon are disjoint: no hard adjective, negator, contrast word or
connective ever occurs in an easy item, so a model trained from scratch on easy items has never seen
them, while a pretrained encoder knows what they mean.
"""

from __future__ import annotations

from dataclasses import dataclass

SUBJECTS: tuple[str, ...] = (
    "the movie", "the film", "the food", "the meal", "the service", "the hotel", "the room",
    "the book", "the novel", "the music", "the album", "the concert", "the show", "the play",
    "the game", "the match", "the trip", "the flight", "the tour", "the class", "the lecture",
    "the course", "the app", "the website", "the phone", "the laptop", "the camera", "the car",
    "the bike", "the coffee", "the pizza", "the dessert", "the restaurant", "the cafe",
    "the museum", "the park", "the beach", "the party", "the wedding", "the staff", "the team",
    "the product", "the gift", "the bakery",
)  # fmt: skip

# Ordered from common to rare: easy items draw them with Zipf frequencies (see synthetic.py).
EASY_POSITIVE: tuple[str, ...] = (
    "good", "great", "nice", "fun", "amazing", "perfect", "beautiful", "awesome", "wonderful",
    "excellent", "lovely", "fantastic", "pleasant", "enjoyable", "brilliant", "cool", "sweet",
    "incredible", "exciting", "solid", "neat", "fine",
)  # fmt: skip
EASY_NEGATIVE: tuple[str, ...] = (
    "bad", "terrible", "boring", "awful", "poor", "horrible", "annoying", "disappointing", "ugly",
    "useless", "dull", "nasty", "unpleasant", "frustrating", "lame", "sad", "weak", "messy", "rude",
    "cheap", "bland", "painful",
)  # fmt: skip
HARD_POSITIVE: tuple[str, ...] = (
    "superb", "splendid", "marvelous", "delightful", "exquisite", "stellar", "terrific",
    "magnificent", "impressive", "outstanding", "sublime", "charming", "remarkable",
    "exceptional", "phenomenal", "glorious", "flawless", "heavenly",
)  # fmt: skip
HARD_NEGATIVE: tuple[str, ...] = (
    "dismal", "dreadful", "abysmal", "atrocious", "mediocre", "lousy", "appalling",
    "pathetic", "miserable", "tedious", "dreary", "shoddy", "lackluster", "subpar",
    "woeful", "deplorable", "wretched", "dire",
)  # fmt: skip
INTENSIFIERS: tuple[str, ...] = ("really", "very", "truly", "so", "quite", "extremely")
NEGATORS: tuple[str, ...] = ("not", "never", "nobody")
CONTRAST: tuple[str, ...] = ("but",)
# Connectives of the compositions (cue pairs, agreeing clauses); never in an easy item either.
CONJUNCTIONS: tuple[str, ...] = ("and", "also", "even")

# Every template ends with the adjective that (after negation, if any) decides the label.
PLAIN_TEMPLATES: tuple[str, ...] = (
    "{s} was {a}", "{s} is {a}", "i found {s} {a}", "{s} felt {a}", "i think {s} was {a}",
    "honestly {s} was {a}", "{s} seemed {a}", "we thought {s} was {a}",
    "everyone said {s} was {a}", "{s} turned out {a}", "overall {s} was {a}",
    "my friends found {s} {a}",
)  # fmt: skip
INTENSIFIED_TEMPLATES: tuple[str, ...] = (
    "{s} was {i} {a}", "{s} is {i} {a}", "i found {s} {i} {a}", "{s} felt {i} {a}",
    "honestly {s} was {i} {a}", "we thought {s} was {i} {a}",
)  # fmt: skip
NEGATED_TEMPLATES: tuple[str, ...] = (
    "{s} was not {a}", "{s} is not {a}", "{s} was never {a}", "i did not find {s} {a}",
    "{s} did not seem {a}", "we did not think {s} was {a}", "honestly {s} was not {a}",
    "{s} never felt {a}", "nobody found {s} {a}", "nobody thought {s} was {a}",
)  # fmt: skip
# {e} is an easy adjective and {h} a hard synonym of the same polarity: the easy cue gives a weak model
# partial signal, the unseen word around it is noise to it. Every template ends with an adjective.
CUE_TEMPLATES: tuple[str, ...] = (
    "{s} was {e} and {h}", "{s} was {h} and {e}", "i found {s} {e} and {h}", "{s} felt {h} and {e}",
    "{s} was {e}, even {h}", "honestly {s} was {h} and {e}", "we thought {s} was {e} and {h}",
    "{s} seemed {h}, really {e}",
)  # fmt: skip
# {a1} and {a2} have the same polarity (easy or hard words): the same frames as the contrasts, joined
# by "and ... also" instead of "but", so the connective decides whether the clauses must agree.
AGREEING_TEMPLATES: tuple[str, ...] = (
    "{s} looked {a1}, and it was also {a2}", "i expected {s} to be {a1}, and it was also {a2}",
    "people said {s} was {a1}, and i also found it {a2}", "{s} seemed {a1}, and it was also {a2}",
    "{s} was {a1} at first, and it also became {a2}", "the start of {s} was {a1}, and the rest was also {a2}",
    "the reviews called {s} {a1}, and it also felt {a2}", "{s} sounded {a1}, and it also turned out {a2}",
)  # fmt: skip
# {a1} has the opposite polarity of {a2}; the clause after "but" decides the label.
CONTRAST_TEMPLATES: tuple[str, ...] = (
    "{s} looked {a1}, but it was {a2}", "i expected {s} to be {a1}, but it was {a2}",
    "people said {s} was {a1}, but i found it {a2}", "{s} seemed {a1}, but it was actually {a2}",
    "{s} was {a1} at first, but it became {a2}", "the start of {s} was {a1}, but the rest was {a2}",
    "the reviews called {s} {a1}, but it felt {a2}", "{s} sounded {a1}, but it turned out {a2}",
)  # fmt: skip


@dataclass(frozen=True)
class SyntheticLexicon:
    """The vocabulary of synthetic-sentiment, split into what easy items may use and what they never do."""

    subjects: tuple[str, ...]
    easy_positive: tuple[str, ...]
    easy_negative: tuple[str, ...]
    hard_positive: tuple[str, ...]
    hard_negative: tuple[str, ...]
    negators: tuple[str, ...]
    contrast: tuple[str, ...]
    conjunctions: tuple[str, ...]

    @property
    def hard_only_words(self) -> frozenset[str]:
        """Words that never occur in an easy item."""
        return frozenset((*self.hard_positive, *self.hard_negative, *self.negators, *self.contrast, *self.conjunctions))

    def polarity(self, adjective: str) -> int:
        """1 for a positive adjective, 0 for a negative one."""
        if adjective in self.easy_positive or adjective in self.hard_positive:
            return 1
        if adjective in self.easy_negative or adjective in self.hard_negative:
            return 0
        raise KeyError(adjective)


def synthetic_lexicon() -> SyntheticLexicon:
    return SyntheticLexicon(
        subjects=SUBJECTS,
        easy_positive=EASY_POSITIVE,
        easy_negative=EASY_NEGATIVE,
        hard_positive=HARD_POSITIVE,
        hard_negative=HARD_NEGATIVE,
        negators=NEGATORS,
        contrast=CONTRAST,
        conjunctions=CONJUNCTIONS,
    )
