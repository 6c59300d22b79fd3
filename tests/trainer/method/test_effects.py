import pytest
from ensemw2s.spec.results import Accuracies, SeedResults
from ensemw2s.trainer.method import (
    ENSEMW2S_MATCHES_W2S,
    STUDENTS_BEAT_SUPERVISORS,
    WEAK_ENSEMBLE_BEATS_WEAK,
    MethodError,
    experiment_results,
    mean_accuracies,
    mean_pgrs,
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


def test_effects_count_seeds_and_report_means(three_seeds):
    effects = {effect.name: effect for effect in summarise_effects(three_seeds)}
    assert list(effects) == [WEAK_ENSEMBLE_BEATS_WEAK, STUDENTS_BEAT_SUPERVISORS, ENSEMW2S_MATCHES_W2S]

    ensemble = effects[WEAK_ENSEMBLE_BEATS_WEAK]
    assert (ensemble.seen_in, ensemble.of) == (2, 3)
    assert ensemble.detail == "+2.3 pts mean (0.610 -> 0.633)"

    students = effects[STUDENTS_BEAT_SUPERVISORS]
    # seed 0: 0.62 > 0.60 and 0.66 > 0.64; seed 1: 0.64 > 0.62 and 0.64 > 0.61; seed 2: w2s 0.60 < weak 0.61.
    assert (students.seen_in, students.of) == (2, 3)
    assert students.detail == (
        "W2S +1.0 pts mean (0.610 -> 0.620) over weak; EnsemW2S +1.0 pts mean (0.633 -> 0.643) over weak ensemble"
    )

    rivals = effects[ENSEMW2S_MATCHES_W2S]
    assert (rivals.seen_in, rivals.of) == (3, 3)  # ties count: seed 1 has 0.64 == 0.64
    assert rivals.detail == "+2.3 pts mean (0.620 -> 0.643)"


def test_effects_skip_seeds_missing_an_accuracy():
    seeds = [
        seed_with(0, weak=0.60, weak_ensemble=0.64),
        seed_with(1, weak=0.60, weak_ensemble=0.58, w2s=0.7, ensemw2s=0.6),
    ]
    effects = {effect.name: effect for effect in summarise_effects(seeds)}
    assert (effects[WEAK_ENSEMBLE_BEATS_WEAK].seen_in, effects[WEAK_ENSEMBLE_BEATS_WEAK].of) == (1, 2)
    assert (effects[STUDENTS_BEAT_SUPERVISORS].seen_in, effects[STUDENTS_BEAT_SUPERVISORS].of) == (1, 1)
    assert (effects[ENSEMW2S_MATCHES_W2S].seen_in, effects[ENSEMW2S_MATCHES_W2S].of) == (0, 1)


def test_effects_without_measurements_say_so():
    effects = summarise_effects([seed_with(0, weak=0.6)])
    assert all(effect.of == 0 and effect.seen_in == 0 for effect in effects)
    assert all(effect.detail.startswith("not measured") for effect in effects)


def test_mean_accuracies_skip_missing(three_seeds):
    mean = mean_accuracies([*three_seeds, seed_with(3, weak=0.65)])
    assert mean.weak == pytest.approx((0.60 + 0.62 + 0.61 + 0.65) / 4)
    assert mean.ceiling == pytest.approx(0.81)
    assert mean_accuracies([seed_with(0, weak=0.6)]).ceiling is None


def test_mean_pgrs_are_pgrs_of_mean_accuracies(three_seeds):
    pgrs = mean_pgrs(three_seeds)
    assert pgrs.w2s_vs_weak == pytest.approx((0.62 - 0.61) / (0.81 - 0.61))
    assert pgrs.ensemw2s_vs_ensemble == pytest.approx((0.643333 - 0.633333) / (0.81 - 0.633333), rel=1e-4)


def test_experiment_results_assembles_everything(three_seeds):
    results = experiment_results("sciq-gpt2", three_seeds)
    assert results.experiment == "sciq-gpt2"
    assert [seed.seed for seed in results.seeds] == [0, 1, 2]
    assert len(results.effects) == 3
    assert results.mean == mean_accuracies(three_seeds)
    assert results.mean_pgr == mean_pgrs(three_seeds)


@pytest.mark.parametrize("function", [mean_accuracies, mean_pgrs, lambda s: experiment_results("x", s)])
def test_means_need_a_seed(function):
    with pytest.raises(MethodError, match=r"seeds: must hold the results of at least one seed \(got 0\)"):
        function([])
