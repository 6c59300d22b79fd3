import numpy as np
import pytest
from ensemw2s.trainer.method import (
    HardTestOutcomes,
    MethodError,
    above_chance,
    mean_interval,
    paired_difference,
    pgr_estimate,
)
from ensemw2s.trainer.method.intervals import t_quantile_975


def correct(n_right: int, n: int = 400, offset: int = 0) -> np.ndarray:
    """``n_right`` of ``n`` items right (from ``offset`` on): the accuracy is exact by construction."""
    return (np.arange(n) - offset) % n < n_right


@pytest.mark.parametrize(
    ("df", "expected"),
    [(1, 12.7062), (2, 4.3027), (4, 2.7764), (10, 2.2281), (30, 2.0423), (31, 2.0395), (60, 2.0003), (120, 1.9799)],
)
def test_t_quantiles(df, expected):
    assert t_quantile_975(df) == pytest.approx(expected, abs=2e-4)


def test_t_quantile_needs_a_degree_of_freedom():
    with pytest.raises(MethodError, match=r"degrees_of_freedom: must be >= 1 \(got 0\)"):
        t_quantile_975(0)


def test_paired_difference_by_hand():
    # differences 0.05, 0.06, 0.04: mean 0.05, sd 0.01, se 0.01 / sqrt 3, t(2) = 4.3027
    interval = paired_difference([0.60, 0.60, 0.60], [0.65, 0.66, 0.64])
    half = 4.3027 * 0.01 / np.sqrt(3)
    assert (interval.estimate, interval.low, interval.high) == pytest.approx((0.05, 0.05 - half, 0.05 + half))
    assert interval.excludes_zero
    one = paired_difference([0.6], [0.7])
    assert one.low is None and one.high is None and not one.excludes_zero
    assert mean_interval([0.5, 0.7]).estimate == pytest.approx(0.6)
    with pytest.raises(MethodError, match=r"before, after: must hold one accuracy per seed each \(got 2 and 1\)"):
        paired_difference([0.6, 0.7], [0.7])


def test_pgr_with_a_clear_gap_has_an_interval_around_it():
    outcomes = HardTestOutcomes({"weak": correct(240), "w2s": correct(300), "ceiling": correct(360)})
    estimate = pgr_estimate([outcomes], "w2s", "weak", "ceiling")
    assert estimate.value == pytest.approx(0.5)  # (0.75 - 0.6) / (0.9 - 0.6)
    assert 0.3 < estimate.interval.low < 0.5 < estimate.interval.high < 0.7
    # The bootstrap is seeded: the same outcomes give the same interval on every machine and every run.
    assert pgr_estimate([outcomes], "w2s", "weak", "ceiling") == estimate


def test_pgr_is_na_when_the_gap_is_inside_the_test_sets_noise():
    # Ceiling 0.013 above the supervisor on 400 items (once printed as PGR -3.40): noise, not a gap.
    outcomes = HardTestOutcomes({"weak": correct(240), "w2s": correct(222), "ceiling": correct(245, offset=3)})
    assert pgr_estimate([outcomes], "w2s", "weak", "ceiling").value is None
    below = HardTestOutcomes({"weak": correct(240), "w2s": correct(300), "ceiling": correct(200)})
    assert pgr_estimate([below], "w2s", "weak", "ceiling").interval is None
    missing = HardTestOutcomes({"weak": correct(240), "ceiling": correct(360)})
    assert pgr_estimate([missing], "w2s", "weak", "ceiling").value is None


def test_mean_pgr_bootstraps_seeds_too():
    seeds = [
        HardTestOutcomes({"weak": correct(240), "w2s": correct(w2s), "ceiling": correct(360)})
        for w2s in (260, 300, 340)  # PGRs 1/6, 1/2, 5/6: the spread over seeds widens the interval
    ]
    mean = pgr_estimate(seeds, "w2s", "weak", "ceiling")
    single = pgr_estimate([seeds[1]], "w2s", "weak", "ceiling")
    assert mean.value == pytest.approx(0.5)
    assert mean.interval.high - mean.interval.low > single.interval.high - single.interval.low


def test_outcomes_must_cover_the_same_items():
    with pytest.raises(MethodError, match=r"correct: every model must be scored on the same items"):
        HardTestOutcomes({"weak": correct(1, n=4), "ceiling": correct(1, n=5)})
    with pytest.raises(MethodError, match=r"seeds: must hold at least one seed's outcomes \(got 0\)"):
        pgr_estimate([], "w2s", "weak", "ceiling")


@pytest.mark.parametrize(
    ("n_right", "labels", "expected"),
    [
        (200, np.arange(400) % 2, False),  # 0.5 on balanced labels: chance
        (216, np.arange(400) % 2, False),  # 0.54: inside the noise of 400 items (z = 1.6)
        (240, np.arange(400) % 2, True),  # 0.60: above it
        (320, (np.arange(400) % 5 > 0).astype(int), False),  # 0.80 where 80% are one class
        (400, np.zeros(400, dtype=int), False),  # one class: nothing to be above
    ],
)
def test_above_chance_compares_with_the_majority_class(n_right, labels, expected):
    assert above_chance(correct(n_right), labels) is expected


def test_above_chance_rejects_mismatched_inputs():
    with pytest.raises(MethodError, match=r"correct: must have one entry per label"):
        above_chance(correct(1, n=3), np.zeros(4))
