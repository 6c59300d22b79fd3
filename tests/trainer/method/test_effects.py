import pytest
from ensemw2s.spec.results import Accuracies, SeedResults
from ensemw2s.spec.results_text import describe_effect
from ensemw2s.trainer.method import (
    ENSEMW2S_BEATS_ENSEMBLE,
    ENSEMW2S_BEATS_W2S,
    W2S_BEATS_WEAK,
    WEAK_ENSEMBLE_BEATS_WEAK,
    HardTestOutcomes,
    MethodError,
    experiment_results,
    mean_accuracies,
    summarise_effects,
)


def seed_with(seed, **accuracies):
    return SeedResults(seed=seed, chosen_round=1, accuracies=Accuracies(**accuracies))


@pytest.fixture
def three_seeds():
    return [
        seed_with(0, weak=0.60, weak_ensemble=0.64, w2s=0.62, ensemw2s=0.66, ceiling=0.80),
        seed_with(1, weak=0.62, weak_ensemble=0.61, w2s=0.64, ensemw2s=0.64, ceiling=0.82),
        seed_with(2, weak=0.61, weak_ensemble=0.65, w2s=0.60, ensemw2s=0.63, ceiling=0.81),
    ]


def test_effects_are_strict_paired_comparisons_with_t_intervals(three_seeds):
    effects = {effect.name: effect for effect in summarise_effects(three_seeds)}
    assert list(effects) == [WEAK_ENSEMBLE_BEATS_WEAK, W2S_BEATS_WEAK, ENSEMW2S_BEATS_ENSEMBLE, ENSEMW2S_BEATS_W2S]

    ensemble = effects[WEAK_ENSEMBLE_BEATS_WEAK]
    # differences +0.04, -0.01, +0.04: mean 0.02333, sd 0.028868, se 0.016667, t(2) = 4.3027
    assert (ensemble.better, ensemble.ties, ensemble.worse, ensemble.of) == (2, 0, 1, 3)
    assert ensemble.difference.estimate == pytest.approx(0.0233333, abs=1e-6)
    assert ensemble.difference.low == pytest.approx(0.0233333 - 0.0717117, abs=1e-5)
    assert ensemble.difference.high == pytest.approx(0.0233333 + 0.0717117, abs=1e-5)
    assert ensemble.verdict == "not shown"
    assert ensemble.detail == "+2.3 pts [95% CI -4.8, +9.5] (0.610 -> 0.633)"

    rivals = effects[ENSEMW2S_BEATS_W2S]
    # seed 1 is a tie (0.64 == 0.64): shown as a tie, never counted as the effect
    assert (rivals.better, rivals.ties, rivals.worse) == (2, 1, 0)
    assert describe_effect(rivals) == (
        "EnsemW2S > W2S: not shown; +2.3 pts [95% CI -2.8, +7.5] (0.620 -> 0.643); better in 2 of 3 seeds, 1 tie"
    )
    assert (effects[W2S_BEATS_WEAK].better, effects[W2S_BEATS_WEAK].worse) == (2, 1)
    assert (effects[ENSEMW2S_BEATS_ENSEMBLE].better, effects[ENSEMW2S_BEATS_ENSEMBLE].worse) == (2, 1)


def test_an_effect_holds_when_its_interval_excludes_zero():
    seeds = [
        seed_with(0, weak=0.60, weak_ensemble=0.65),
        seed_with(1, weak=0.60, weak_ensemble=0.66),
        seed_with(2, weak=0.60, weak_ensemble=0.64),
    ]
    effect = summarise_effects(seeds)[0]
    # differences 0.05, 0.06, 0.04: sd 0.01, se 0.0057735, half-width 4.3027 * se = 0.024842
    assert effect.difference.low == pytest.approx(0.025158, abs=1e-5)
    assert effect.verdict == "holds"
    reversed_seeds = [seed_with(s.seed, weak=s.accuracies.weak_ensemble, weak_ensemble=0.60) for s in seeds]
    assert summarise_effects(reversed_seeds)[0].verdict == "reversed"


def test_ties_in_every_seed_are_not_an_effect():
    # Nothing learned: every model at chance. "EnsemW2S >= W2S in 3 of 3 seeds" was printed for this.
    seeds = [seed_with(s, w2s=0.5, ensemw2s=0.5) for s in range(3)]
    effect = summarise_effects(seeds)[3]
    assert (effect.better, effect.ties, effect.of) == (0, 3, 3)
    assert effect.verdict == "not shown"


def test_one_seed_has_no_interval():
    effect = summarise_effects([seed_with(0, weak=0.6, weak_ensemble=0.7)])[0]
    assert effect.difference.low is None and effect.verdict == "not shown"
    assert effect.detail == "+10.0 pts (one seed: no interval) (0.600 -> 0.700)"


def test_effects_skip_seeds_missing_an_accuracy():
    seeds = [
        seed_with(0, weak=0.60, weak_ensemble=0.64),
        seed_with(1, weak=0.60, weak_ensemble=0.58, w2s=0.7, ensemw2s=0.6),
    ]
    effects = {effect.name: effect for effect in summarise_effects(seeds)}
    assert (effects[WEAK_ENSEMBLE_BEATS_WEAK].better, effects[WEAK_ENSEMBLE_BEATS_WEAK].of) == (1, 2)
    assert (effects[W2S_BEATS_WEAK].better, effects[W2S_BEATS_WEAK].of) == (1, 1)
    assert (effects[ENSEMW2S_BEATS_W2S].worse, effects[ENSEMW2S_BEATS_W2S].of) == (1, 1)


def test_effects_without_measurements_say_so():
    effects = summarise_effects([seed_with(0, weak=0.6)])
    assert all(effect.of == 0 and effect.better == 0 and effect.difference is None for effect in effects)
    assert all(effect.detail.startswith("not measured") for effect in effects)
    assert describe_effect(effects[0]).endswith("not measured: no seed has the accuracies it compares")


def test_mean_accuracies_skip_missing(three_seeds):
    mean = mean_accuracies([*three_seeds, seed_with(3, weak=0.65)])
    assert mean.weak == pytest.approx((0.60 + 0.62 + 0.61 + 0.65) / 4)
    assert mean.ceiling == pytest.approx(0.81)
    assert mean_accuracies([seed_with(0, weak=0.6)]).ceiling is None


def outcomes_for(seed: SeedResults, n: int = 400) -> HardTestOutcomes:
    import numpy as np

    return HardTestOutcomes(
        {name: np.arange(n) < round(value * n) for name, value in seed.accuracies.model_dump().items()}
    )


def test_experiment_results_assembles_everything(three_seeds):
    outcomes = [outcomes_for(seed) for seed in three_seeds]
    results = experiment_results("sciq-gpt2", three_seeds, outcomes, weak_model="gpt2", strong_model="gpt2-xl")
    assert results.experiment == "sciq-gpt2"
    assert (results.weak_model, results.strong_model) == ("gpt2", "gpt2-xl")
    assert [seed.seed for seed in results.seeds] == [0, 1, 2]
    assert len(results.effects) == 4
    assert results.mean == mean_accuracies(three_seeds)
    # The mean PGR is the PGR of the mean accuracies, with a seed-and-item bootstrap interval.
    assert results.mean_pgr.w2s_vs_weak == pytest.approx((0.62 - 0.61) / (0.81 - 0.61))
    interval = results.mean_pgr_interval.w2s_vs_weak
    assert interval.low < results.mean_pgr.w2s_vs_weak < interval.high
    assert results.seeds[0].pgr.w2s_vs_weak == pytest.approx((0.62 - 0.60) / (0.80 - 0.60))
    assert results.seeds[0].pgr_interval.w2s_vs_weak is not None


def test_experiment_results_without_outcomes_report_no_pgr(three_seeds):
    results = experiment_results("x", three_seeds)
    assert results.mean_pgr.w2s_vs_weak is None
    with pytest.raises(MethodError, match=r"outcomes: must hold one entry per seed \(3\) \(got 1\)"):
        experiment_results("x", three_seeds, [outcomes_for(three_seeds[0])])


@pytest.mark.parametrize("function", [mean_accuracies, lambda s: experiment_results("x", s)])
def test_means_need_a_seed(function):
    with pytest.raises(MethodError, match=r"seeds: must hold the results of at least one seed \(got 0\)"):
        function([])


def test_experiment_notes_say_when_the_comparison_cannot_say_much():
    from ensemw2s.spec.results import PrefixAccuracy
    from ensemw2s.trainer.method import experiment_notes

    prefixes = [PrefixAccuracy(rounds=r, val=0.9, hard_test=0.6) for r in (1, 2)]
    r_one = [SeedResults(seed=s, chosen_round=1, prefix=prefixes) for s in range(3)]
    (note,) = experiment_notes(r_one)
    assert note.startswith("val chose r = 1 in every seed: the weak ensemble is round 0")
    mixed = [*r_one[:2], SeedResults(seed=9, chosen_round=2, prefix=prefixes)]
    assert experiment_notes(mixed) == []
    assert experiment_notes([seed_with(0, weak=0.6)])[0].startswith("one seed: the effects have no interval")
    assert experiment_results("x", r_one).notes == [note]
