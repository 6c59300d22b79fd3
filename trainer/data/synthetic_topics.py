"""synthetic-topics: a seeded, license-clean K = 4 easy-to-hard dataset (the topic of a statement).

Short statements about one of four topics (label 0 sports, 1 food, 2 weather, 3 music). Easy items
name the topic with common words, drawn with Zipf frequencies; every hard item relies on something
easy items never contain. Difficulty is known by construction, one range per kind:

    easy-pair 0.00-0.20 < easy-plain 0.20-0.45
    < cued-rare-word 0.55-0.70 (a rare word beside a common word of the same topic)
    < rare-word 0.70-0.85 < indirect 0.85-1.00 (no topic word at all: "we grabbed umbrellas")

A word-level model trained from scratch on easy items keeps signal on cued items, is near chance
on rare words and indirect phrasing; a pretrained encoder generalises through word meaning.
"""

from __future__ import annotations

from enum import StrEnum

from .records import LabelledItem
from .synthetic import Slot, TextPattern, generate_items, kind_from_id, word_slot

NAME = "synthetic-topics"
DEFAULT_SIZE = 6000
GENERATOR_VERSION = 1
"""Bumped whenever the same (n, seed) would generate different items; part of the prepare stage's key."""

TOPICS: tuple[str, ...] = ("sports", "food", "weather", "music")  # the label is the index

# Ordered from common to rare: easy items draw them with Zipf frequencies.
COMMON_WORDS: tuple[tuple[str, ...], ...] = (
    ("football", "game", "team", "match", "goal", "ball", "player", "coach", "score", "soccer", "tennis",
     "basketball", "stadium", "referee", "league", "race"),
    ("pizza", "dinner", "bread", "soup", "lunch", "cheese", "pasta", "salad", "cake", "rice", "chicken",
     "breakfast", "sandwich", "recipe", "cookies", "burger"),
    ("rain", "snow", "sun", "wind", "storm", "clouds", "cold", "forecast", "sunshine", "weather", "heat",
     "temperature", "fog", "ice", "rainbow", "thunder"),
    ("song", "music", "guitar", "band", "concert", "piano", "singer", "album", "drums", "radio", "melody",
     "dance", "lyrics", "tune", "choir", "playlist"),
)  # fmt: skip
RARE_WORDS: tuple[tuple[str, ...], ...] = (
    ("goalkeeper", "marathon", "dribbling", "tournament", "umpire", "sprinter", "javelin", "hurdles",
     "decathlon", "offside", "wicket", "touchdown", "quarterback", "midfielder", "penalty", "relay"),
    ("croissant", "lasagna", "risotto", "casserole", "dumplings", "omelette", "broth", "baguette", "gnocchi",
     "paella", "sorbet", "stew", "pastry", "curry", "tortilla", "meatballs"),
    ("drizzle", "hailstorm", "blizzard", "humidity", "monsoon", "thunderstorm", "frost", "heatwave", "gale",
     "sleet", "overcast", "downpour", "tornado", "hurricane", "breeze", "mist"),
    ("symphony", "saxophone", "cello", "orchestra", "chorus", "violin", "ballad", "harmony", "trumpet",
     "rhythm", "soprano", "conductor", "opera", "bassist", "serenade", "tempo"),
)  # fmt: skip
# Clauses about a topic that name no topic word, common or rare: only their meaning tells the topic.
INDIRECT_CLAUSES: tuple[tuple[str, ...], ...] = (
    ("the crowd roared after the final whistle", "we ran laps until our legs gave out",
     "both sides were tied going into overtime", "he kicked it past the keeper", "the underdogs lifted the trophy",
     "she swam forty lengths before work", "the fans painted their faces", "we lost in extra time again",
     "he hit a home run in the last inning", "the runners crossed the line together"),
    ("the kitchen smelled of garlic and butter", "we ordered seconds of everything",
     "my stomach growled until the plates arrived", "she baked something sweet for the guests",
     "the oven timer went off twice", "we tried the spicy dish at the new place", "he sliced the onions too thick",
     "the waiter brought the dessert menu", "we shared a bowl of noodles", "everything tasted a bit too salty"),
    ("we grabbed umbrellas before heading out", "the roads froze overnight", "the sky turned grey by noon",
     "everyone wore shorts and sunscreen", "the power went out when the gusts hit",
     "puddles covered the whole street", "we scraped the windshield at dawn", "we shoveled the driveway twice",
     "it was too sticky to sleep", "the flights were grounded by the gusts"),
    ("she kept humming all afternoon", "the audience sang along to every verse",
     "he tuned the strings before the show", "we bought tickets to hear them live",
     "the speakers were turned all the way up", "she practised her scales for an hour",
     "the encore lasted twenty minutes", "he wrote a verse about his hometown",
     "the headphones blocked out everything", "the record spun on the turntable"),
)  # fmt: skip
# Shared by every topic and both sides, so they carry no signal.
PEOPLE: tuple[str, ...] = (
    "my friend", "my sister", "my brother", "our neighbour", "my uncle", "the teacher", "my roommate",
    "my cousin", "our guide", "my boss", "the kids", "my grandmother",
)  # fmt: skip
TIMES: tuple[str, ...] = (
    "yesterday", "today", "last night", "this morning", "on sunday", "all week", "after work",
    "at the weekend", "this afternoon", "every day",
)  # fmt: skip
ONE_WORD_TEMPLATES: tuple[str, ...] = (
    "{p} talked about the {w} {t}", "{p} could not stop thinking about the {w} {t}",
    "{t} {p} asked me about the {w}", "{p} told me about the {w} {t}", "we heard about the {w} from {p} {t}",
    "{p} sent me a photo of the {w} {t}",
)  # fmt: skip
TWO_WORD_TEMPLATES: tuple[str, ...] = (
    "{p} talked about the {a} and the {b} {t}", "{t} {p} mentioned the {a} and the {b}",
    "{p} only cared about the {a} and the {b} {t}",
)  # fmt: skip
CLAUSE_TEMPLATES: tuple[str, ...] = ("{t} {p} said {c}", "{p} told me {c} {t}", "according to {p}, {c} {t}")


class TopicKind(StrEnum):
    EASY_PAIR = "easy-pair"
    EASY_PLAIN = "easy-plain"
    CUED_RARE_WORD = "cued-rare-word"
    RARE_WORD = "rare-word"
    INDIRECT = "indirect"


DIFFICULTY_RANGES: dict[TopicKind, tuple[float, float]] = {
    TopicKind.EASY_PAIR: (0.0, 0.2),
    TopicKind.EASY_PLAIN: (0.2, 0.45),
    TopicKind.CUED_RARE_WORD: (0.55, 0.7),
    TopicKind.RARE_WORD: (0.7, 0.85),
    TopicKind.INDIRECT: (0.85, 1.0),
}
EASY_SHARES: dict[TopicKind, float] = {TopicKind.EASY_PAIR: 0.5, TopicKind.EASY_PLAIN: 0.5}
HARD_SHARES: dict[TopicKind, float] = {
    TopicKind.CUED_RARE_WORD: 0.4,
    TopicKind.RARE_WORD: 0.35,
    TopicKind.INDIRECT: 0.25,
}
TOPIC_SHARES: dict[int, float] = {label: 1 / len(TOPICS) for label in range(len(TOPICS))}
TOPIC_PHRASES: dict[int, str] = {label: f"about {topic}" for label, topic in enumerate(TOPICS)}


def _pattern(kind: TopicKind, topic: int) -> TextPattern:
    people: Slot = ("p", PEOPLE, None)
    times: Slot = ("t", TIMES, None)
    common, rare = COMMON_WORDS[topic], RARE_WORDS[topic]
    if kind is TopicKind.EASY_PAIR:
        slots = (people, word_slot("a", common, zipf=True), word_slot("b", common, zipf=True), times)
        return TextPattern(TWO_WORD_TEMPLATES, slots)
    if kind is TopicKind.EASY_PLAIN:
        return TextPattern(ONE_WORD_TEMPLATES, (people, word_slot("w", common, zipf=True), times))
    if kind is TopicKind.CUED_RARE_WORD:
        return TextPattern(TWO_WORD_TEMPLATES, (people, word_slot("a", common), word_slot("b", rare), times))
    if kind is TopicKind.RARE_WORD:
        return TextPattern(ONE_WORD_TEMPLATES, (people, word_slot("w", rare), times))
    return TextPattern(CLAUSE_TEMPLATES, (people, ("c", INDIRECT_CLAUSES[topic], None), times))


def generate_synthetic_topics(n: int, seed: int, hard_fraction: float = 0.5) -> list[LabelledItem]:
    """``n`` distinct items, the four topics balanced within the easy side and within the hard side.

    Ids read ``synthetic-topics/<kind>/<index>`` so results can be broken down by kind.
    """
    return generate_items(
        LabelledItem, NAME, n, seed, hard_fraction, TOPIC_PHRASES, EASY_SHARES, HARD_SHARES, DIFFICULTY_RANGES, _pattern
    )


def topic_kind(item_id: str) -> TopicKind:
    """The kind encoded in a synthetic-topics item id."""
    return kind_from_id(NAME, item_id, TopicKind)
