"""Paired comparisons against statsmodels and scipy; Holm against statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar as statsmodels_mcnemar
from statsmodels.stats.multitest import multipletests

from doteval._private.stats import (
    Difference,
    PairedAccumulator,
    holm,
    holm_adjust,
    mcnemar,
    paired_difference,
)

DISCORDANT = [(0, 0), (0, 1), (3, 9), (12, 12), (2, 22), (10, 14), (24, 0),  # exact: < 25
              (13, 12), (20, 31), (40, 20), (100, 131), (1, 60), (500, 400)]  # fmt: skip


@pytest.mark.parametrize(("b_wins", "a_wins"), DISCORDANT)
def test_mcnemar_matches_statsmodels(b_wins: int, a_wins: int) -> None:
    statistic, p, test = mcnemar(b_wins, a_wins)
    table = [[17, b_wins], [a_wins, 9]]  # concordant cells do not enter the test
    exact = b_wins + a_wins < 25
    reference = statsmodels_mcnemar(table, exact=exact, correction=True)
    assert test == ("mcnemar-exact" if exact else "mcnemar-chi2")
    if not exact and b_wins == a_wins:
        # statsmodels' (|b - a| - 1)^2 / n gives 1/n here; we floor |b - a| - 1 at 0.
        assert (statistic, p) == (0.0, 1.0)
        return
    assert math.isclose(statistic, reference.statistic, rel_tol=1e-9)
    assert math.isclose(p, reference.pvalue, rel_tol=1e-9)


def test_mcnemar_rejects_bad_counts() -> None:
    with pytest.raises(ValueError, match="b_wins must be a count"):
        mcnemar(-1, 3)


def _continuous(seed: int, n: int = 80) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(0.5, 0.2, size=n)
    return a, a + rng.normal(0.03, 0.1, size=n)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_paired_t_matches_scipy_ttest_rel(seed: int, level: float) -> None:
    a, b = _continuous(seed)
    difference = paired_difference(a.tolist(), b.tolist(), level=level)
    reference = stats.ttest_rel(b, a)
    interval = reference.confidence_interval(level)
    assert difference.test == "paired-t"
    assert math.isclose(difference.p_value, reference.pvalue, rel_tol=1e-9)
    assert difference.ci == pytest.approx((interval.low, interval.high), rel=1e-9)
    assert difference.delta == pytest.approx(float(np.mean(b - a)), rel=1e-12)
    assert difference.stderr == pytest.approx(stats.sem(b - a), rel=1e-9)
    assert (difference.better, difference.worse, difference.tied) == (
        int((b > a).sum()),
        int((b < a).sum()),
        0,
    )


def test_binary_runs_use_mcnemar_on_the_discordant_items() -> None:
    rng = np.random.default_rng(3)
    a = (rng.random(400) < 0.6).astype(int)
    b = np.where(rng.random(400) < 0.15, 1 - a, a)  # b flips 15 % of a's answers
    b[:30] = 1
    difference = paired_difference(a.tolist(), b.tolist())
    better, worse = int(((b == 1) & (a == 0)).sum()), int(((b == 0) & (a == 1)).sum())
    reference = statsmodels_mcnemar([[0, better], [worse, 0]], exact=False, correction=True)
    assert (difference.better, difference.worse, difference.tied) == (
        better,
        worse,
        400 - better - worse,
    )
    assert difference.test == "mcnemar-chi2"
    assert math.isclose(difference.p_value, reference.pvalue, rel_tol=1e-9)
    # The interval is the paired-difference t interval either way.
    interval = stats.ttest_rel(b, a).confidence_interval(0.95)
    assert difference.ci == pytest.approx((interval.low, interval.high), rel=1e-9)
    forced = paired_difference(a.tolist(), b.tolist(), test="t")
    assert forced.test == "paired-t"
    assert math.isclose(forced.p_value, stats.ttest_rel(b, a).pvalue, rel_tol=1e-9)


def test_clustered_pairs_match_statsmodels_on_the_differences() -> None:
    rng = np.random.default_rng(4)
    clusters = np.repeat(np.arange(25), 8)
    passage = rng.normal(0, 0.3, size=25)[clusters]
    a = (rng.random(200) < 0.5 + passage * 0.3).astype(float)
    b = (rng.random(200) < 0.55 + passage * 0.3).astype(float)
    difference = paired_difference(a.tolist(), b.tolist(), clusters=clusters.tolist())
    d = b - a
    reference = sm.OLS(d, np.ones_like(d)).fit(
        cov_type="cluster", cov_kwds={"groups": clusters}, use_t=True
    )
    assert difference.test == "clustered-t"
    assert difference.stderr == pytest.approx(reference.bse[0], rel=1e-9)
    assert difference.ci == pytest.approx(tuple(reference.conf_int(0.05)[0]), rel=1e-9)
    assert math.isclose(difference.p_value, reference.pvalues[0], rel_tol=1e-9)


def test_mappings_align_by_item_and_count_items_one_run_lacks() -> None:
    a = {"q1": 1, "q2": 0, "q3": 1, "q4": 1}
    b = {"q2": 1, "q3": 1, "q4": 0, "q5": 1, "q6": 0}
    difference = paired_difference(a, b)
    assert (difference.n, difference.only_a, difference.only_b) == (3, 1, 2)
    assert (difference.better, difference.worse, difference.tied) == (1, 1, 1)
    assert difference.delta == 0.0
    sequences = paired_difference([1, 0, 1, 1, None, None], [None, 1, 1, 0, 1, 0])
    assert attributes(sequences) == attributes(difference)


def attributes(difference: Difference) -> tuple[object, ...]:
    return (difference.delta, difference.stderr, difference.ci, difference.p_value, difference.n)


def test_misaligned_runs_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="one entry per item"):
        paired_difference([1, 0], [1])
    with pytest.raises(TypeError, match="both as sequences"):
        paired_difference([1, 0], {"q1": 1})
    with pytest.raises(ValueError, match="McNemar's test needs 0/1"):
        paired_difference([0.5, 1], [1, 1], test="mcnemar")
    with pytest.raises(ValueError, match="test must be one of"):
        paired_difference([1, 0], [1, 1], test="wilcoxon")


def test_paired_bootstrap_is_seeded_and_agrees_with_the_t_interval() -> None:
    a, b = _continuous(5, n=300)
    first = paired_difference(a.tolist(), b.tolist(), test="bootstrap", resamples=2000)
    again = paired_difference(a.tolist(), b.tolist(), test="bootstrap", resamples=2000)
    other = paired_difference(a.tolist(), b.tolist(), test="bootstrap", resamples=2000, seed=7)
    t = paired_difference(a.tolist(), b.tolist())
    assert first == again
    assert first.ci != other.ci
    assert first.test == "paired-bootstrap"
    assert first.stderr == pytest.approx(t.stderr, rel=0.1)
    assert first.ci == pytest.approx(t.ci, abs=0.3 * t.stderr)
    assert first.p_value is not None
    assert first.p_value < 0.01
    assert t.p_value is not None
    assert t.p_value < 0.01


def test_constant_differences() -> None:
    same = paired_difference([0.2, 0.4, 0.6], [0.2, 0.4, 0.6])
    assert (same.delta, same.stderr, same.p_value, same.tied) == (0.0, 0.0, 1.0, 3)
    shifted = PairedAccumulator()
    for value in (1.0, 2.0, 3.0):
        shifted.add(value, value + 0.5)
    assert shifted.difference().p_value == 0.0


def test_no_shared_items() -> None:
    difference = paired_difference({"q1": 1}, {"q2": 0})
    assert (difference.delta, difference.p_value, difference.test) == (None, None, "none")


def test_pilot_variances_for_power_analysis() -> None:
    a, b = _continuous(6)
    accumulator = PairedAccumulator()
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        accumulator.add(x, y)
    covariance = np.cov(a, b, ddof=1)
    assert accumulator.variances == pytest.approx(
        (covariance[0, 0], covariance[1, 1], covariance[0, 1]), rel=1e-9
    )
    assert accumulator.sd_difference == pytest.approx(np.std(b - a, ddof=1), rel=1e-9)


P_VALUES = [
    [0.01, 0.04, 0.03, 0.2, 0.04, 0.5],
    [0.5],
    [0.001, 0.001, 0.9, 0.0],
    [0.3, 0.2, 0.1, 0.05, 0.04, 0.03, 0.02, 0.011, 1.0],
]


@pytest.mark.parametrize("p_values", P_VALUES)
def test_holm_matches_statsmodels(p_values: list[float]) -> None:
    reference = multipletests(p_values, method="holm")[1]
    assert holm(p_values) == pytest.approx(list(reference), rel=1e-12)


def test_holm_adjust_sets_p_adjusted_on_differences_that_have_a_p_value() -> None:
    rng = np.random.default_rng(8)
    base = rng.normal(size=50)
    runs = [base + rng.normal(shift, 1.0, size=50) for shift in (0.0, 0.3, 0.6)]
    differences = [paired_difference(base.tolist(), run.tolist()) for run in runs]
    differences.append(paired_difference({"q": 1}, {"r": 1}))  # no p-value
    adjusted = holm_adjust(differences)
    expected = multipletests([d.p_value for d in differences[:3]], method="holm")[1]
    assert [d.p_adjusted for d in adjusted[:3]] == pytest.approx(list(expected), rel=1e-12)
    assert adjusted[3].p_adjusted is None
    assert [d.p_value for d in adjusted] == [d.p_value for d in differences]


def test_holm_rejects_non_probabilities() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        holm([0.2, 1.5])
