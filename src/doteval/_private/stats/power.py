"""Power analysis: how small a difference an eval can see, and how many items it needs.

We use the normal approximation of the two-sided test, as Miller does ("Adding Error
Bars to Evals", on power analysis): the test statistic is ``delta / stderr``, and the
power counts both rejection tails, ``Φ(δ/se - z) + Φ(-δ/se - z)`` with
``z = z(1 - alpha/2)``. This is what statsmodels' ``NormalIndPower`` computes
(``ratio=1`` for two independent runs, ``ratio=0`` for a paired design). The t-test
(``TTestPower``) needs a few more items below about 30; for evals of hundreds of
items the two agree to an item or two.

Designs: *paired* runs score the same items, and the variance that matters is that of
the per-item differences, ``σ_a² + σ_b² - 2·cov`` (small when the two runs agree on
which items are hard); *independent* runs score separate items, ``σ_a² + σ_b²``.
"""

from __future__ import annotations

import math

from doteval._private.stats.distributions import norm_cdf, norm_isf


def _check(alpha: float, power: float | None = None) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1 (e.g. 0.05), got {alpha!r}")
    if power is not None and not alpha < power < 1.0:
        raise ValueError(
            f"power must be between alpha={alpha} and 1 (e.g. 0.8), got {power!r}:"
            " a test always rejects with probability alpha when there is no difference"
        )


def _check_positive(name: str, number: float) -> None:
    if not (number > 0.0 and math.isfinite(number)):
        raise ValueError(f"{name} must be a positive number, got {number!r}")


def power_of_test(effect: float, stderr: float, alpha: float = 0.05) -> float:
    """Probability that a two-sided level-``alpha`` z-test rejects when the truth is ``effect``."""
    _check(alpha)
    _check_positive("stderr", stderr)
    z = norm_isf(0.5 * alpha)
    shift = abs(effect) / stderr
    return norm_cdf(shift - z) + norm_cdf(-shift - z)


def _multiplier(alpha: float, power: float) -> float:
    """The ``m`` with ``power_of_test(m·se, se, alpha) == power`` (``m ≈ 2.80`` at 0.05/0.8)."""
    _check(alpha, power)
    z = norm_isf(0.5 * alpha)
    m = z + norm_isf(1.0 - power)
    for _ in range(50):
        value = norm_cdf(m - z) + norm_cdf(-m - z) - power
        slope = math.exp(-0.5 * (m - z) ** 2) - math.exp(-0.5 * (m + z) ** 2)
        step = value / (slope / math.sqrt(2.0 * math.pi))
        m -= step
        if abs(step) <= 1e-15 * m:
            break
    return m


def detectable_effect(stderr: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true difference detected with probability ``power`` given its ``stderr``."""
    _check_positive("stderr", stderr)
    return _multiplier(alpha, power) * stderr


def mde_paired(n: int, sd_difference: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimum detectable effect of two runs on the same ``n`` items.

    ``sd_difference`` is the standard deviation of per-item differences ``b - a`` (from a
    pilot: ``PairedAccumulator.sd_difference``, or :func:`paired_sd`).
    """
    _check_n(n)
    return detectable_effect(sd_difference / math.sqrt(n), alpha=alpha, power=power)


def mde_independent(
    n: int, sd_a: float, sd_b: float | None = None, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Minimum detectable effect of two runs on separate sets of ``n`` items each."""
    _check_n(n)
    sd_b = sd_a if sd_b is None else sd_b
    return detectable_effect(math.sqrt((sd_a**2 + sd_b**2) / n), alpha=alpha, power=power)


def items_needed_paired(
    effect: float, sd_difference: float, *, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Items two runs must share to detect ``effect`` with probability ``power``."""
    return _items(effect, sd_difference, alpha, power)


def items_needed_independent(
    effect: float,
    sd_a: float,
    sd_b: float | None = None,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
) -> int:
    """Items *each* of two independent runs needs to detect ``effect``."""
    sd_b = sd_a if sd_b is None else sd_b
    return _items(effect, math.sqrt(sd_a**2 + sd_b**2), alpha, power)


def _items(effect: float, sd: float, alpha: float, power: float) -> int:
    _check_positive("effect", abs(effect))
    _check_positive("the standard deviation", sd)
    exact = (_multiplier(alpha, power) * sd / abs(effect)) ** 2
    # Round up, but not past a whole number that float rounding nudged upwards.
    return max(1, math.ceil(exact * (1.0 - 1e-12)))


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a whole number of items >= 1, got {n!r}")


def paired_sd(sd_a: float, sd_b: float, covariance: float) -> float:
    """``sqrt(σ_a² + σ_b² - 2·cov)``: the per-item difference spread from a pilot's parts."""
    variance = sd_a**2 + sd_b**2 - 2.0 * covariance
    if variance < 0.0:
        raise ValueError(
            f"sd_a={sd_a}, sd_b={sd_b} and covariance={covariance} give a negative variance:"
            " the covariance cannot exceed sd_a·sd_b"
        )
    return math.sqrt(variance)


def binary_sd(p: float) -> float:
    """``sqrt(p(1-p))``: the per-item standard deviation of a 0/1 score with accuracy ``p``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"an accuracy is between 0 and 1, got {p!r}")
    return math.sqrt(p * (1.0 - p))


def epochs_sd(between_variance: float, within_variance: float, epochs: int) -> float:
    """Per-item spread of a K-epoch mean, ``sqrt(σ_between² + σ_within²/K)``.

    This is the quantity Miller's section on resampling answers works with.

    More epochs shrink only the second term: past the point where it is small next to
    the first, extra epochs buy nothing and extra items are what helps.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    return math.sqrt(between_variance + within_variance / epochs)
