"""The seeded percentile bootstrap."""

from __future__ import annotations

import statistics

import numpy as np
import pytest
from scipy import stats

from doteval._private.stats import bootstrap_estimate, bootstrap_replicates, mean_estimate
from doteval._private.stats.bootstrap import percentile


def test_same_data_same_interval_and_the_seed_matters() -> None:
    values = np.random.default_rng(0).exponential(size=200).tolist()
    first = bootstrap_estimate(values)
    assert bootstrap_estimate(values) == first
    assert bootstrap_estimate(values, seed=1) != first
    assert first.method == "bootstrap"
    assert first.n == 200


def test_interval_and_stderr_are_the_percentiles_and_sd_of_the_replicates() -> None:
    values = np.random.default_rng(1).normal(size=100).tolist()
    replicates = bootstrap_replicates(values, statistics.median, resamples=500, seed=3)
    estimate = bootstrap_estimate(values, statistics.median, level=0.9, resamples=500, seed=3)
    assert estimate.value == statistics.median(values)
    assert estimate.ci == pytest.approx(tuple(np.percentile(replicates, [5, 95])), rel=1e-12)
    assert estimate.stderr == pytest.approx(np.std(replicates, ddof=1), rel=1e-9)


def test_percentile_interpolates_like_numpy() -> None:
    data = sorted(np.random.default_rng(2).random(37).tolist())
    for q in (0.0, 0.025, 0.5, 0.77, 0.975, 1.0):
        assert percentile(data, q) == pytest.approx(np.percentile(data, 100 * q), rel=1e-12)


def test_bootstrap_of_a_mean_agrees_with_the_clt() -> None:
    values = np.random.default_rng(4).gamma(2.0, size=400)
    bootstrap = bootstrap_estimate(values.tolist(), resamples=2000)
    clt = mean_estimate(400, float(values.sum()), float((values**2).sum()))
    assert bootstrap.stderr == pytest.approx(stats.sem(values), rel=0.1)
    assert bootstrap.ci == pytest.approx(clt.ci, abs=0.3 * stats.sem(values))


def test_degenerate_inputs() -> None:
    assert bootstrap_estimate([]).method == "none"
    single = bootstrap_estimate([0.3])
    assert (single.value, single.stderr, single.ci) == (0.3, None, None)
    with pytest.raises(ValueError, match="resamples >= 2"):
        bootstrap_estimate([0.1, 0.2], resamples=1)
