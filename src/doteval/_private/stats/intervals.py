"""Confidence intervals for a proportion and for a mean."""

from __future__ import annotations

import math

from doteval._private.stats.distributions import beta_isf, beta_ppf, norm_isf, t_isf


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}")


def _check_counts(successes: float, n: int) -> None:
    if n < 1:
        raise ValueError(f"an interval for a proportion needs n >= 1 trials, got n={n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}, got {successes!r}")


def wilson_interval(successes: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``successes / n``.

    Unlike the plain ``p ± z·sqrt(p(1-p)/n)`` (Wald) interval it stays inside [0, 1] and
    keeps its coverage near 0 and 1, where the Wald interval collapses to a point: 10 out
    of 10 correct gives (0.72, 1.0), not (1, 1). This is what to report for accuracy.
    """
    _check_level(level)
    _check_counts(successes, n)
    z = norm_isf(0.5 * (1.0 - level))
    z2 = z * z
    p = successes / n
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denominator
    spread = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denominator
    # At p = 0 or 1 the bound is exactly 0 or 1 in exact arithmetic; say so exactly.
    low = 0.0 if successes == 0 else max(0.0, centre - spread)
    high = 1.0 if successes == n else min(1.0, centre + spread)
    return low, high


def clopper_pearson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson ("exact") interval: never below its nominal coverage.

    It inverts two one-sided binomial tests, so it is conservative (wider than Wilson);
    use it when a guarantee matters more than a tight bar.
    """
    _check_level(level)
    _check_counts(successes, n)
    if successes != int(successes):
        raise ValueError(f"Clopper-Pearson needs a whole number of successes, got {successes!r}")
    tail = 0.5 * (1.0 - level)
    low = 0.0 if successes == 0 else beta_ppf(tail, successes, n - successes + 1)
    high = 1.0 if successes == n else beta_isf(tail, successes + 1, n - successes)
    return low, high


def t_interval(centre: float, stderr: float, df: float, level: float = 0.95) -> tuple[float, float]:
    """``centre ± t(df)·stderr``: the interval for a mean that stays honest for small n."""
    _check_level(level)
    half = t_isf(0.5 * (1.0 - level), df) * stderr
    return centre - half, centre + half
