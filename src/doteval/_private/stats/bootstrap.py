"""Seeded percentile bootstrap, for statistics without a standard-error formula."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

from doteval._private.stats.estimate import Estimate

DEFAULT_SEED = 20241101  # fixed, so the same data always gives the same interval


def mean(values: Sequence[float]) -> float:
    """The correctly rounded mean (``math.fsum``), the bootstrap's default statistic."""
    return math.fsum(values) / len(values)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted data by linear interpolation (numpy's default method)."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    position = q * (len(sorted_values) - 1)
    below = math.floor(position)
    above = min(below + 1, len(sorted_values) - 1)
    fraction = position - below
    return sorted_values[below] + fraction * (sorted_values[above] - sorted_values[below])


def bootstrap_replicates(
    values: Sequence[float],
    statistic: Callable[[list[float]], float] = mean,
    resamples: int = 1000,
    seed: int = DEFAULT_SEED,
) -> list[float]:
    """``statistic`` over ``resamples`` resamples of ``values`` drawn with replacement.

    ``random.Random(seed)`` draws them, so the replicates are a pure function of the
    data, the statistic, ``resamples`` and ``seed``, on every platform and Python version
    that keeps ``random``'s documented reproducibility (``choices`` of a fixed seed).
    """
    if resamples < 2:
        raise ValueError(f"the bootstrap needs resamples >= 2, got {resamples}")
    data = list(values)
    rng = random.Random(seed)
    n = len(data)
    return [statistic(rng.choices(data, k=n)) for _ in range(resamples)]


def bootstrap_estimate(
    values: Sequence[float],
    statistic: Callable[[list[float]], float] = mean,
    level: float = 0.95,
    resamples: int = 1000,
    seed: int = DEFAULT_SEED,
) -> Estimate:
    """``statistic(values)`` with a percentile-bootstrap interval.

    ``stderr`` is the standard deviation of the replicates and ``ci`` their
    ``(1-level)/2`` and ``(1+level)/2`` percentiles. Use it for a metric with no formula
    (a median, an F1 over items); for a mean the CLT estimate is as good and exact.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}")
    data = list(values)
    if not data:
        return Estimate(None, None, None, level=level, n=0, method="none")
    value = statistic(data)
    if len(data) < 2:
        return Estimate(value, None, None, level=level, n=1, method="bootstrap")
    replicates = sorted(bootstrap_replicates(data, statistic, resamples, seed))
    centre = math.fsum(replicates) / len(replicates)
    spread = math.fsum((r - centre) ** 2 for r in replicates) / (len(replicates) - 1)
    tail = 0.5 * (1.0 - level)
    interval = (percentile(replicates, tail), percentile(replicates, 1.0 - tail))
    return Estimate(
        value, math.sqrt(spread), interval, level=level, n=len(data), method="bootstrap"
    )
