"""K epochs per item: the variance decomposition, and an error bar on items, not item-epochs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from doteval._private.stats import EpochMoments, epoch_estimate


def _run(
    seed: int, items: int = 300, epochs: int = 5, spread: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.beta(spread, spread, size=items)  # each question's true accuracy
    return truth, (rng.random((items, epochs)) < truth[:, None]).astype(float)


def test_decomposition_matches_numpy_on_the_per_item_values() -> None:
    _, scores = _run(0)
    result = epoch_estimate(scores.tolist())
    item_means = scores.mean(axis=1)
    within = scores.var(axis=1, ddof=1).mean()
    assert (result.items, result.observations) == (300, 1500)
    assert result.estimate.value == pytest.approx(scores.mean(), rel=1e-12)
    assert result.estimate.stderr == pytest.approx(stats.sem(item_means), rel=1e-9)
    assert result.estimate.naive_stderr == pytest.approx(stats.sem(scores.ravel()), rel=1e-9)
    assert result.estimate.n == 300  # items are the units
    assert result.item_mean_variance == pytest.approx(item_means.var(ddof=1), rel=1e-9)
    assert result.within_variance == pytest.approx(within, rel=1e-9)
    assert result.between_variance == pytest.approx(item_means.var(ddof=1) - within / 5, rel=1e-9)


def test_decomposition_recovers_the_simulated_variances() -> None:
    # Beta(2, 2) accuracies: between-item variance 1/20; within, E[p(1-p)] = 1/5.
    _, scores = _run(1, items=4000, epochs=4)
    result = epoch_estimate(scores.tolist())
    assert result.between_variance == pytest.approx(1 / 20, rel=0.1)
    assert result.within_variance == pytest.approx(1 / 5, rel=0.05)


def test_item_level_interval_covers_and_epoch_level_one_does_not() -> None:
    # Beta(1/2, 1/2) accuracies: questions differ a lot, so the 4 epochs of one question
    # are far from independent (Var of an item mean 1/8 + 1/32 against the naive 1/16).
    covered = naive_covered = 0
    runs = 1000
    for seed in range(runs):
        _, scores = _run(100 + seed, items=60, epochs=4, spread=0.5)
        result = epoch_estimate(scores.tolist()).estimate
        assert result.ci is not None
        assert result.naive_stderr is not None
        covered += result.ci[0] <= 0.5 <= result.ci[1]
        half = 1.96 * result.naive_stderr
        naive_covered += result.value - half <= 0.5 <= result.value + half
    assert 0.93 <= covered / runs <= 0.97
    assert naive_covered / runs < 0.90


def test_unequal_epochs_and_errored_epochs() -> None:
    accumulator = EpochMoments()
    accumulator.add_item([1, 0, None])  # None: an errored epoch scores 0
    accumulator.add_item([1])
    accumulator.add_item([0.5, 0.5])
    result = accumulator.estimate()
    assert result.estimate.value == pytest.approx(np.mean([1 / 3, 1.0, 0.5]))
    assert result.within_variance == pytest.approx(np.mean([np.var([1, 0, 0], ddof=1), 0.0]))
    mean_inverse_k = np.mean([1 / 3, 1.0, 1 / 2])
    expected_between = np.var([1 / 3, 1.0, 0.5], ddof=1) - result.within_variance * mean_inverse_k
    assert result.between_variance == pytest.approx(max(0.0, expected_between))
    with pytest.raises(ValueError, match="at least one epoch"):
        accumulator.add_item([])
