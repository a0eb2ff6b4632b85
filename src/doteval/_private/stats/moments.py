"""Means with standard errors, from running sums: the CLT estimate and the binary one."""

from __future__ import annotations

import math
from typing import Any

import attrs

from doteval._private.stats.estimate import Estimate
from doteval._private.stats.exact import (
    Exact,
    ExactSum,
    as_real,
    multiply,
    scale,
    split,
    split_if_plain,
    subtract,
    to_float,
)
from doteval._private.stats.intervals import (
    clopper_pearson_interval,
    t_interval,
    wilson_interval,
)


def mean_and_variance(count: int, total: Exact, squares: Exact) -> tuple[float, float | None]:
    """Mean and sample variance (``n - 1``) from exact sums, each rounded once.

    ``n·Σx² - (Σx)²`` is computed exactly, so there is no cancellation and no
    dependence on the order the values came in.
    """
    mean = to_float(total, count)
    if count < 2:
        return mean, None
    mantissa, exponent = subtract(scale(squares, count), multiply(total, total))
    return mean, to_float((max(mantissa, 0), exponent), count * (count - 1))


def estimate_from_sums(count: int, total: Exact, squares: Exact, level: float) -> Estimate:
    """The CLT :class:`Estimate` of a mean from exact sums (see :func:`mean_estimate`)."""
    if count == 0:
        return Estimate(None, None, None, level=level, n=0, method="none")
    mean, variance = mean_and_variance(count, total, squares)
    if variance is None:
        return Estimate(mean, None, None, level=level, n=count, method="clt")
    stderr = math.sqrt(variance / count)
    return Estimate(mean, stderr, t_interval(mean, stderr, count - 1, level), level=level, n=count)


def mean_estimate(n: int, total: float, total_of_squares: float, level: float = 0.95) -> Estimate:
    """Mean of ``n`` values from their sum and sum of squares, with a CLT error bar.

    ``stderr = sqrt(s² / n)`` with the sample variance ``s²`` (``n - 1``), and a Student-t
    interval on ``n - 1`` degrees of freedom, which matters for small evals.
    Fewer than two values give no standard error. For 0/1 scores prefer
    :class:`BinaryCounts` (Wilson), whose interval behaves near 0 and 1.
    """
    if n < 0:
        raise ValueError(f"n must be a count of values, got {n}")
    for name, number in (("total", total), ("total_of_squares", total_of_squares)):
        if not math.isfinite(number):
            raise ValueError(f"{name} must be finite, got {number!r}")
    if total_of_squares < 0:
        raise ValueError(f"total_of_squares cannot be negative, got {total_of_squares!r}")
    return estimate_from_sums(n, split(total), split(total_of_squares), level)


@attrs.define(repr=False)
class Moments:
    """Running count, sum and sum of squares of a score: O(1) memory, mergeable, exact.

    Two halves of a run merged give bit for bit the estimate of one pass, in any order.
    """

    count: int = 0
    _total: ExactSum = attrs.field(factory=ExactSum)
    _squares: ExactSum = attrs.field(factory=ExactSum)

    def add(self, value: float | int | bool) -> None:
        """Fold in one value."""
        parts = split_if_plain(value)
        if parts is not None:
            mantissa, exponent = parts
            self.count += 1
            self._total.add_exact(mantissa, exponent)
            self._squares.add_exact(mantissa * mantissa, 2 * exponent)
            return
        value = as_real(value, "Moments.add")
        self.count += 1
        self._total.add(value)
        self._squares.add_product(value, value)

    def merge(self, other: Moments) -> None:
        """Fold in another accumulator's values."""
        self.count += other.count
        self._total.merge(other._total)
        self._squares.merge(other._squares)

    @property
    def mean(self) -> float | None:
        """The correctly rounded mean (None before any value)."""
        if self.count == 0:
            return None
        special = self._total.special
        if special is not None:
            return special
        return to_float(self._total.exact, self.count)

    def mean_over(self, count: int) -> float:
        """The sum divided by ``count`` (at least :attr:`count`: the values beyond it count
        as zeros, as items that errored do in an accuracy), correctly rounded."""
        special = self._total.special
        if special is not None:
            return special
        return to_float(self._total.exact, count) if count else 0.0

    def with_zeros(self, zeros: int) -> Moments:
        """A copy with ``zeros`` more values of 0: the same sums, a larger count."""
        return attrs.evolve(self, count=self.count + zeros)

    @property
    def variance(self) -> float | None:
        """The sample variance (``n - 1``), None below two values or with non-finite ones."""
        if self.count < 2 or not self._total.finite:
            return None
        return mean_and_variance(self.count, self._total.exact, self._squares.exact)[1]

    def estimate(self, level: float = 0.95) -> Estimate:
        """The mean with a CLT standard error and Student-t interval (see :func:`mean_estimate`)."""
        special = self._total.special
        if special is not None:
            return Estimate(special, None, None, level=level, n=self.count, method="none")
        return estimate_from_sums(self.count, self._total.exact, self._squares.exact, level)

    def state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot, for persisting a run between resumes."""
        return {"count": self.count, "sum": self._total.state(), "squares": self._squares.state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Moments:
        """Inverse of :meth:`state`."""
        return cls(
            int(state["count"]),
            ExactSum.from_state(state["sum"]),
            ExactSum.from_state(state["squares"]),
        )


def _as_binary(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raise ValueError(
        f"BinaryCounts takes booleans or 0/1 (None for an item that errored), got {value!r};"
        " use Moments for scores that take other values"
    )


@attrs.define(repr=False)
class BinaryCounts:
    """Successes out of trials, for accuracy-like scores: Wilson interval by default.

    ``None`` is an item that errored and counts as a failure, as doteval's accuracy does.
    """

    successes: int = 0
    total: int = 0

    def add(self, value: bool | int | float | None) -> None:
        """Fold in one outcome (True/1 success, False/0/None failure)."""
        self.total += 1
        if _as_binary(value):
            self.successes += 1

    def merge(self, other: BinaryCounts) -> None:
        """Fold in another accumulator's counts."""
        self.successes += other.successes
        self.total += other.total

    def estimate(self, level: float = 0.95, method: str = "wilson") -> Estimate:
        """The proportion with ``stderr = sqrt(p(1-p)/n)`` and a Wilson interval.

        ``method="clopper-pearson"`` gives the conservative exact interval instead.
        """
        if method not in ("wilson", "clopper-pearson"):
            raise ValueError(f"method must be 'wilson' or 'clopper-pearson', got {method!r}")
        if self.total == 0:
            return Estimate(None, None, None, level=level, n=0, method="none")
        p = self.successes / self.total
        interval = (
            wilson_interval(self.successes, self.total, level)
            if method == "wilson"
            else clopper_pearson_interval(self.successes, self.total, level)
        )
        stderr = math.sqrt(p * (1.0 - p) / self.total)
        return Estimate(p, stderr, interval, level=level, n=self.total, method=method)

    def state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot."""
        return {"successes": self.successes, "total": self.total}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> BinaryCounts:
        """Inverse of :meth:`state`."""
        successes, total = int(state["successes"]), int(state["total"])
        if not 0 <= successes <= total:
            raise ValueError(f"corrupt BinaryCounts state: {state!r}")
        return cls(successes, total)
