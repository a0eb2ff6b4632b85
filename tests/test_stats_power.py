"""Power analysis against statsmodels' NormalIndPower (the normal approximation we use)."""

from __future__ import annotations

import math

import pytest
from statsmodels.stats.power import NormalIndPower, TTestPower

from doteval._private.stats import (
    binary_sd,
    detectable_effect,
    epochs_sd,
    items_needed_independent,
    items_needed_paired,
    mde_independent,
    mde_paired,
    paired_sd,
    power_of_test,
)

NORMAL = NormalIndPower()
SETTINGS = [(n, alpha, power) for n in (20, 100, 1000, 50_000)
            for alpha in (0.01, 0.05, 0.1) for power in (0.5, 0.8, 0.9)]  # fmt: skip


@pytest.mark.parametrize("effect", [0.05, 0.2, 0.5])
@pytest.mark.parametrize("n", [10, 100, 1000])
def test_power_matches_statsmodels(effect: float, n: int) -> None:
    for alpha in (0.01, 0.05):
        # paired: one sample of n differences with sd 1 (ratio=0)
        paired = power_of_test(effect, 1.0 / math.sqrt(n), alpha)
        assert math.isclose(paired, NORMAL.power(effect, n, alpha, ratio=0), rel_tol=1e-12)
        # independent: two runs of n items, sd 1 each
        independent = power_of_test(effect, math.sqrt(2.0 / n), alpha)
        assert math.isclose(independent, NORMAL.power(effect, n, alpha, ratio=1), rel_tol=1e-12)


@pytest.mark.parametrize(("n", "alpha", "power"), SETTINGS)
def test_mde_is_the_root_of_statsmodels_power_function(n: int, alpha: float, power: float) -> None:
    paired = mde_paired(n, 1.0, alpha=alpha, power=power)
    independent = mde_independent(n, 1.0, alpha=alpha, power=power)
    # Plugged into statsmodels' own power function, our MDE gives the power asked for:
    assert math.isclose(NORMAL.power(paired, n, alpha, ratio=0), power, rel_tol=1e-12)
    assert math.isclose(NORMAL.power(independent, n, alpha, ratio=1), power, rel_tol=1e-12)
    # statsmodels' solve_power stops its root finder early (off by up to 2e-4 here, while
    # the check above holds to 1e-12), so it only agrees loosely.
    solved = NORMAL.solve_power(nobs1=n, alpha=alpha, power=power, ratio=0)
    assert math.isclose(paired, solved, rel_tol=1e-3)


@pytest.mark.parametrize("effect", [0.02, 0.1, 0.3])
def test_items_needed_are_statsmodels_n_rounded_up(effect: float) -> None:
    for sd in (0.3, 0.5, 1.0):
        paired = NORMAL.solve_power(effect_size=effect / sd, alpha=0.05, power=0.8, ratio=0)
        assert items_needed_paired(effect, sd) == math.ceil(paired)
        independent = NORMAL.solve_power(effect_size=effect / sd, alpha=0.05, power=0.8, ratio=1)
        assert items_needed_independent(effect, sd) == math.ceil(independent)


def test_normal_approximation_is_within_a_few_items_of_the_t_test() -> None:
    for effect in (0.1, 0.3, 0.5, 0.8):
        normal = items_needed_paired(effect, 1.0)
        t_based = TTestPower().solve_power(effect_size=effect, alpha=0.05, power=0.8)
        assert normal <= math.ceil(t_based) <= normal + 3


def test_unequal_variances_and_pilot_parts() -> None:
    # Var(b - a) = 0.04 + 0.09 - 2 * 0.03 = 0.07
    assert paired_sd(0.2, 0.3, 0.03) == pytest.approx(math.sqrt(0.07))
    assert mde_independent(200, 0.2, 0.3) == pytest.approx(
        detectable_effect(math.sqrt((0.04 + 0.09) / 200))
    )
    assert binary_sd(0.7) == pytest.approx(math.sqrt(0.21))
    assert epochs_sd(0.04, 0.12, 4) == pytest.approx(math.sqrt(0.04 + 0.03))
    with pytest.raises(ValueError, match="negative variance"):
        paired_sd(0.1, 0.1, 0.5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mde_paired(0, 1.0), "whole number of items"),
        (lambda: mde_paired(100, 1.0, power=0.01), "power must be between alpha"),
        (lambda: items_needed_paired(0.0, 1.0), "effect must be a positive number"),
        (lambda: power_of_test(0.1, 0.0), "stderr must be a positive number"),
        (lambda: mde_paired(100, 1.0, alpha=5), "alpha must be between 0 and 1"),
    ],
)
def test_bad_power_arguments(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_difference_reports_the_mde_of_its_own_stderr() -> None:
    from doteval._private.stats import paired_difference

    difference = paired_difference([0, 1, 1, 0, 1] * 40, [1, 1, 1, 0, 0] * 40)
    assert difference.stderr is not None
    assert difference.mde == pytest.approx(
        NORMAL.solve_power(nobs1=1, alpha=0.05, power=0.8, ratio=0) * difference.stderr, rel=1e-4
    )
