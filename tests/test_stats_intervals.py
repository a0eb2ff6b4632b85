"""Wilson, Clopper-Pearson and CLT mean intervals: statsmodels/scipy values, and coverage."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from doteval._private.stats import (
    BinaryCounts,
    Moments,
    clopper_pearson_interval,
    mean_estimate,
    wilson_interval,
)

CASES = [(0, 1), (1, 1), (0, 10), (10, 10), (3, 10), (1, 1000), (712, 1000), (999, 1000),
         (0, 100_000), (50_000, 100_000), (99_999, 100_000), (7, 1_000_000)]  # fmt: skip
LEVELS = [0.5, 0.8, 0.9, 0.95, 0.99, 0.999]


@pytest.mark.parametrize(("successes", "n"), CASES)
def test_wilson_matches_statsmodels(successes: int, n: int) -> None:
    for level in LEVELS:
        low, high = wilson_interval(successes, n, level)
        ref_low, ref_high = proportion_confint(successes, n, alpha=1 - level, method="wilson")
        # statsmodels computes centre - spread even at 0 (leaving ~1e-17): compare absolutely
        # there, relatively elsewhere.
        assert math.isclose(low, ref_low, rel_tol=1e-9, abs_tol=1e-15)
        assert math.isclose(high, ref_high, rel_tol=1e-9, abs_tol=1e-15)


def test_wilson_takes_fractional_successes_like_statsmodels() -> None:
    low, high = wilson_interval(12.5, 40)
    assert (low, high) == pytest.approx(proportion_confint(12.5, 40, method="wilson"), rel=1e-9)


def test_wilson_is_proper_at_the_ends() -> None:
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    low, high = wilson_interval(10, 10)
    assert high == 1.0
    assert low < 1.0  # never (1.0, 1.0): ten out of ten does not prove perfection
    assert low == pytest.approx(0.7225, abs=1e-4)


@pytest.mark.parametrize(("successes", "n"), CASES)
def test_clopper_pearson_matches_statsmodels(successes: int, n: int) -> None:
    for level in LEVELS:
        low, high = clopper_pearson_interval(successes, n, level)
        ref_low, ref_high = proportion_confint(successes, n, alpha=1 - level, method="beta")
        assert math.isclose(low, ref_low, rel_tol=1e-9, abs_tol=0.0)
        assert math.isclose(high, ref_high, rel_tol=1e-9, abs_tol=0.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: wilson_interval(3, 0), "n >= 1"),
        (lambda: wilson_interval(11, 10), "between 0 and n=10"),
        (lambda: wilson_interval(1, 10, level=95), "between 0 and 1"),
        (lambda: clopper_pearson_interval(2.5, 10), "whole number"),
    ],
)
def test_bad_interval_arguments(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


@pytest.mark.parametrize("n", [2, 3, 10, 57, 1000])
def test_mean_estimate_matches_scipy(n: int) -> None:
    values = np.random.default_rng(n).gamma(2.0, 3.0, size=n)
    for level in (0.9, 0.95, 0.99):
        estimate = mean_estimate(n, float(values.sum()), float((values**2).sum()), level)
        assert estimate.value == pytest.approx(values.mean(), rel=1e-12)
        assert estimate.stderr == pytest.approx(stats.sem(values), rel=1e-9)
        interval = stats.t.interval(level, n - 1, loc=values.mean(), scale=stats.sem(values))
        assert estimate.ci == pytest.approx(interval, rel=1e-9)
        assert (estimate.n, estimate.method, estimate.level) == (n, "clt", level)


def test_moments_accumulator_matches_scipy() -> None:
    values = np.random.default_rng(7).normal(100.0, 0.001, size=500)  # cancellation-prone
    moments = Moments()
    for value in values:
        moments.add(float(value))
    estimate = moments.estimate(0.95)
    assert estimate.stderr == pytest.approx(stats.sem(values), rel=1e-9)
    assert moments.variance == pytest.approx(np.var(values, ddof=1), rel=1e-9)


def test_mean_estimate_below_two_values_has_no_error_bar() -> None:
    one = mean_estimate(1, 0.4, 0.16)
    assert (one.value, one.stderr, one.ci, one.n) == (0.4, None, None, 1)
    none = mean_estimate(0, 0.0, 0.0)
    assert (none.value, none.method) == (None, "none")


def test_mean_estimate_rejects_impossible_sums() -> None:
    with pytest.raises(ValueError, match="total_of_squares cannot be negative"):
        mean_estimate(3, 1.0, -1.0)
    with pytest.raises(ValueError, match="total must be finite"):
        mean_estimate(3, math.nan, 1.0)


def test_binary_counts_give_wilson_and_count_errors_as_failures() -> None:
    counts = BinaryCounts()
    for value in [True, 1, 1.0, False, 0, None]:
        counts.add(value)
    estimate = counts.estimate()
    assert (estimate.value, estimate.n, estimate.method) == (0.5, 6, "wilson")
    assert estimate.ci == wilson_interval(3, 6)
    assert estimate.stderr == pytest.approx(math.sqrt(0.25 / 6))
    assert counts.estimate(method="clopper-pearson").ci == clopper_pearson_interval(3, 6)
    with pytest.raises(ValueError, match="use Moments"):
        counts.add(0.5)


# ---------------------------------------------------------------- coverage

RUNS = 2000  # binomial sd of a 95 % coverage over 2000 runs is 0.5 points


def test_wilson_interval_covers_the_true_accuracy_95_percent_of_the_time() -> None:
    rng = random.Random(1)
    covered = 0
    for run in range(RUNS):
        # Wilson's exact coverage at n = 300 is 94.8-95.8 % at these accuracies.
        truth = (0.3, 0.6, 0.8, 0.9)[run % 4]
        n = 300
        correct = sum(rng.random() < truth for _ in range(n))
        low, high = wilson_interval(correct, n)
        covered += low <= truth <= high
    assert 0.93 <= covered / RUNS <= 0.97


def test_clt_interval_covers_the_true_mean_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(2)
    truth = 2 / (2 + 5)  # mean of Beta(2, 5): skewed continuous scores
    covered = 0
    for _ in range(RUNS):
        values = rng.beta(2, 5, size=40)
        estimate = mean_estimate(40, float(values.sum()), float((values**2).sum()))
        assert estimate.ci is not None
        covered += estimate.ci[0] <= truth <= estimate.ci[1]
    assert 0.93 <= covered / RUNS <= 0.97
