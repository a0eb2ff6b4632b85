"""Cluster-robust standard errors against statsmodels OLS, and their coverage."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from doteval._private.stats import ClusterSums, clustered_mean_estimate, mean_estimate


def _data(seed: int, clusters: int = 17, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, clusters, size=n)  # unequal cluster sizes
    values = (rng.random(n) < 0.3 + 0.03 * groups).astype(float)
    return groups, values


def _statsmodels(groups: np.ndarray, values: np.ndarray, correction: bool = True) -> object:
    model = sm.OLS(values, np.ones_like(values))
    return model.fit(
        cov_type="cluster", cov_kwds={"groups": groups, "use_correction": correction}, use_t=True
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("small_sample", [True, False])
def test_accumulator_matches_statsmodels_cluster_robust_ols(seed: int, small_sample: bool) -> None:
    groups, values = _data(seed)
    sums = ClusterSums()
    for group, value in zip(groups, values, strict=True):
        sums.add(int(group), float(value))
    estimate = sums.estimate(0.95, small_sample=small_sample)
    reference = _statsmodels(groups, values, correction=small_sample)
    assert estimate.value == pytest.approx(reference.params[0], rel=1e-12)
    assert estimate.stderr == pytest.approx(reference.bse[0], rel=1e-9)
    # use_t=True: statsmodels' t interval on G - 1 df (its default, use_t=False, is normal).
    assert estimate.ci == pytest.approx(tuple(reference.conf_int(0.05)[0]), rel=1e-9)
    assert reference.df_resid_inference == estimate.n - 1
    assert (estimate.n, estimate.method) == (len(set(groups.tolist())), "clustered")


def test_statsmodels_default_applies_the_small_sample_factor() -> None:
    groups, values = _data(3)
    default = sm.OLS(values, np.ones_like(values)).fit(
        cov_type="cluster", cov_kwds={"groups": groups}
    )
    pairs = [
        (float(values[groups == g].sum()), int((groups == g).sum())) for g in np.unique(groups)
    ]
    assert clustered_mean_estimate(pairs).stderr == pytest.approx(default.bse[0], rel=1e-9)
    g = len(pairs)
    uncorrected = clustered_mean_estimate(pairs, small_sample=False).stderr
    assert uncorrected is not None
    assert uncorrected * np.sqrt(g / (g - 1)) == pytest.approx(default.bse[0], rel=1e-9)


def test_pairs_and_accumulator_agree_and_report_the_naive_stderr() -> None:
    groups, values = _data(4)
    pairs = [
        (float(values[groups == g].sum()), int((groups == g).sum())) for g in np.unique(groups)
    ]
    from_pairs = clustered_mean_estimate(pairs, total_of_squares=float((values**2).sum()))
    sums = ClusterSums()
    for group, value in zip(groups, values, strict=True):
        sums.add(f"passage-{group}", float(value))
    assert sums.estimate() == from_pairs
    assert from_pairs.naive_stderr == pytest.approx(stats.sem(values), rel=1e-9)
    assert from_pairs.stderr_ratio == pytest.approx(from_pairs.stderr / stats.sem(values))
    assert clustered_mean_estimate(pairs).naive_stderr is None  # no squares given


def test_one_cluster_has_no_error_bar() -> None:
    estimate = clustered_mean_estimate([(3.0, 5)])
    assert (estimate.value, estimate.stderr, estimate.ci, estimate.n) == (0.6, None, None, 1)


def test_bad_cluster_input_is_named() -> None:
    with pytest.raises(ValueError, match="count >= 1"):
        clustered_mean_estimate([(1.0, 0), (2.0, 3)])
    with pytest.raises(TypeError, match="str or int"):
        ClusterSums().add(("a", 1), 1.0)  # type: ignore[arg-type]


RUNS = 2000


def test_clustered_interval_covers_and_the_naive_one_does_not() -> None:
    # 40 passages of 10 questions; a passage's difficulty moves all its questions
    # (intra-cluster correlation 1/(3+1) = 0.25, design effect 1 + 9 * 0.25 = 3.25).
    rng = np.random.default_rng(5)
    truth, concentration, clusters, size = 0.7, 3.0, 40, 10
    covered = naive_covered = 0
    ratios = []
    for _ in range(RUNS):
        p = rng.beta(truth * concentration, (1 - truth) * concentration, size=clusters)
        correct = rng.binomial(size, p)
        pairs = [(float(c), size) for c in correct]
        total = float(correct.sum())
        estimate = clustered_mean_estimate(pairs, total_of_squares=total)  # 0/1: x² = x
        naive = mean_estimate(clusters * size, total, total)
        assert estimate.ci is not None
        assert naive.ci is not None
        covered += estimate.ci[0] <= truth <= estimate.ci[1]
        naive_covered += naive.ci[0] <= truth <= naive.ci[1]
        ratios.append(estimate.stderr_ratio)
    assert 0.93 <= covered / RUNS <= 0.97
    assert naive_covered / RUNS < 0.90
    assert np.median(ratios) == pytest.approx(np.sqrt(3.25), rel=0.1)
