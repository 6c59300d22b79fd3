import json

import pytest
from ensemw2s.spec.base import to_camel
from ensemw2s.spec.results import (
    TERMINATION_MESSAGE_LIMIT,
    Accuracies,
    Effect,
    ExperimentResults,
    PGRs,
    PrefixAccuracy,
    RoundSummary,
    SeedResults,
)
from pydantic import ValidationError


@pytest.mark.parametrize(
    ("name", "alias"),
    [
        ("w2s_vs_weak", "w2sVsWeak"),
        ("ensemw2s_vs_ensemble", "ensemw2sVsEnsemble"),
        ("weak_ensemble", "weakEnsemble"),
        ("hard_test_accuracy", "hardTestAccuracy"),
        ("ensemw2s", "ensemw2s"),
    ],
)
def test_camel_alias_keeps_digits_lowercase(name, alias):
    assert to_camel(name) == alias


def test_json_uses_camel_case_and_round_trips(three_seeds_ten_rounds):
    data = json.loads(three_seeds_ten_rounds.to_json())
    assert set(data) == {
        "experiment",
        "metric",
        "weakModel",
        "strongModel",
        "seeds",
        "effects",
        "mean",
        "meanPgr",
        "meanPgrInterval",
        "notes",
    }
    seed = data["seeds"][0]
    assert {"chosenRound", "stopReason", "rounds", "prefix", "accuracies", "pgr", "pgrInterval", "notes"} <= set(seed)
    assert set(seed["accuracies"]) == {"weak", "weakEnsemble", "w2s", "ensemw2s", "ceiling"}
    assert set(seed["pgr"]) == {"w2sVsWeak", "ensemw2sVsWeak", "ensemw2sVsEnsemble"}
    assert {"valAccuracy", "hardTestAccuracy", "degenerate"} <= set(seed["rounds"][0])
    assert set(seed["prefix"][0]) == {"rounds", "val", "hardTest", "valBrier", "valLogLoss"}
    assert {"name", "better", "ties", "worse", "of", "difference", "detail"} == set(data["effects"][0])
    assert set(data["meanPgrInterval"]["w2sVsWeak"]) == {"estimate", "low", "high"}
    assert ExperimentResults.model_validate(data) == three_seeds_ten_rounds


def test_models_accept_python_names_and_are_frozen():
    accuracies = Accuracies(weak_ensemble=0.6)
    assert Accuracies(weakEnsemble=0.6) == accuracies
    with pytest.raises(ValidationError):
        accuracies.weak = 0.5  # type: ignore[misc]


def test_compact_fits_a_termination_message(three_seeds_ten_rounds):
    full = three_seeds_ten_rounds
    assert len(full.to_json().encode()) > TERMINATION_MESSAGE_LIMIT
    compact = full.compact()
    size = len(compact.to_json().encode())
    assert size < 4096
    assert [seed.seed for seed in compact.seeds] == [0, 1, 2]
    assert all(not seed.rounds and not seed.prefix for seed in compact.seeds)
    assert compact.seeds[0].notes[-1] == "3 more notes in report.md"  # seed 0: 5 degenerate rounds
    assert (compact.mean, compact.mean_pgr, compact.mean_pgr_interval) == (
        full.mean,
        full.mean_pgr,
        full.mean_pgr_interval,
    )
    assert compact.effects[0].better == full.effects[0].better
    assert compact.effects[0].difference == full.effects[0].difference


def test_compact_keeps_numbers_exact_so_every_printer_says_what_the_report_says(three_seeds_ten_rounds):
    """Rounding to 4 digits in the termination message, then to 2 when printed, turned -0.37499999999999967
    (the report's -0.37) into -0.375 and the status's -0.38 (found on the real control plane)."""
    from ensemw2s.spec.results_text import format_pgr

    value = -0.37499999999999967
    full = three_seeds_ten_rounds.model_copy(
        update={"mean_pgr": three_seeds_ten_rounds.mean_pgr.model_copy(update={"ensemw2s_vs_weak": value})}
    )
    compact = full.compact()
    assert format_pgr(compact.mean_pgr.ensemw2s_vs_weak) == format_pgr(value) == "-0.37"


def test_compact_degrades_until_it_fits(three_seeds_ten_rounds):
    no_notes = three_seeds_ten_rounds.compact(max_bytes=2900)
    assert [seed.notes for seed in no_notes.seeds] == [["5 more notes in report.md"], [], []]
    assert len(no_notes.to_json().encode()) <= 2900
    only_summary = three_seeds_ten_rounds.compact(max_bytes=1600)
    assert only_summary.seeds == [] and len(only_summary.effects) == 4
    assert len(only_summary.to_json().encode()) <= 1600


def test_compact_shortens_long_texts():
    long = "x" * 1000
    results = ExperimentResults(
        experiment="e",
        seeds=[SeedResults(seed=0, chosen_round=1, stop_reason=long, notes=[long])],
        effects=[Effect(name="n", better=0, ties=0, worse=0, of=0, detail=long)],
    )
    compact = results.compact()
    assert len(compact.seeds[0].stop_reason or "") == 160
    assert compact.seeds[0].notes[0].endswith("...")
    assert len(compact.effects[0].detail) == 160


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Accuracies(weak=1.2), "less than or equal to 1"),
        (lambda: Accuracies(weak=float("nan")), "finite number"),
        (lambda: PGRs(w2s_vs_weak=float("inf")), "finite number"),
        (lambda: PrefixAccuracy(rounds=0, val=0.5, hard_test=0.5), "greater than or equal to 1"),
        (lambda: RoundSummary(round=0, eps=1.5, alpha=1, val_accuracy=0.5, hard_test_accuracy=0.5), "eps"),
        (lambda: Accuracies(weak=0.5, typo=1), "Extra inputs are not permitted"),
        (
            lambda: Effect(name="n", better=3, ties=0, worse=0, of=2, detail=""),
            r"of: must equal better \+ ties \+ worse = 3 \(got 2\)",
        ),
        (
            lambda: SeedResults(seed=0, chosen_round=2, prefix=[PrefixAccuracy(rounds=1, val=0.5, hard_test=0.5)]),
            r"chosenRound: must be <= the number of prefix ensembles 1 \(got 2\)",
        ),
    ],
)
def test_models_reject(build, message):
    with pytest.raises(ValidationError, match=message):
        build()
