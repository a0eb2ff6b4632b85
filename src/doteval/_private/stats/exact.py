"""Exact, order-independent summation of floats, with a JSON-friendly state.

Every finite double is ``m * 2**e`` for integers m and e, so a sum kept as one integer
mantissa over the smallest exponent seen is exact: any order, any split into parts
merged later, gives the same number, and rounding it once gives the correctly rounded
sum. That is what lets a resumed run report the same mean, bit for bit, as an
uninterrupted one. Squares and products of doubles are exact the same way. The integers
stay as small as the data allows (0/1 scores sum as plain small ints), so this costs
about what Shewchuk's partials (``math.fsum``) do and is far simpler to merge and store.
"""

from __future__ import annotations

import math
import numbers
import re
from fractions import Fraction
from typing import Any

import attrs

Exact = tuple[int, int]  # (m, e): the number m * 2**e

_ENCODED = re.compile(r"^(-?)0x([0-9a-f]+)p(-?\d+)$")


def split(value: float | int) -> Exact:
    """A finite float or an int as ``(m, e)`` with ``value == m * 2**e`` exactly."""
    if isinstance(value, int):
        return value, 0
    numerator, denominator = value.as_integer_ratio()
    return numerator, 1 - denominator.bit_length()


def split_if_plain(value: object) -> Exact | None:
    """:func:`split` for a finite float or an int (bools too), else None.

    The accumulators' hot path: one conversion per value and no other checks; None sends
    the value down the slow path that validates it.
    """
    if isinstance(value, float):
        if value - value == 0.0:  # finite: inf - inf and nan - nan are nan
            numerator, denominator = value.as_integer_ratio()
            return numerator, 1 - denominator.bit_length()
        return None
    if isinstance(value, int):
        return value, 0
    return None


def align(first: Exact, second: Exact) -> tuple[int, int, int]:
    """``(a, b, e)`` with ``first == a * 2**e`` and ``second == b * 2**e``."""
    (m1, e1), (m2, e2) = first, second
    if e1 <= e2:
        return m1, m2 << (e2 - e1), e1
    return m1 << (e1 - e2), m2, e2


def add(first: Exact, second: Exact) -> Exact:
    a, b, e = align(first, second)
    return a + b, e


def subtract(first: Exact, second: Exact) -> Exact:
    a, b, e = align(first, second)
    return a - b, e


def multiply(first: Exact, second: Exact) -> Exact:
    return first[0] * second[0], first[1] + second[1]


def scale(number: Exact, factor: int) -> Exact:
    return number[0] * factor, number[1]


def ratio(numerator: int, denominator: int) -> float:
    """``numerator / denominator`` correctly rounded, or ±inf past the float range."""
    try:
        return numerator / denominator
    except OverflowError:
        return math.inf if (numerator < 0) == (denominator < 0) else -math.inf


def to_float(number: Exact, divisor: int = 1) -> float:
    """``m * 2**e / divisor``, correctly rounded (one rounding, whatever the size)."""
    mantissa, exponent = number
    if exponent >= 0:
        return ratio(mantissa << exponent, divisor)
    return ratio(mantissa, divisor << -exponent)


def encode(number: Exact) -> str:
    """``'0x<hex>p<exponent>'`` with an odd mantissa: unique for each number, short for
    typical sums (``'0x2d9p0'`` for 729), and exact for any."""
    mantissa, exponent = number
    if mantissa == 0:
        return "0x0p0"
    trailing = (mantissa & -mantissa).bit_length() - 1
    mantissa >>= trailing
    sign = "-" if mantissa < 0 else ""
    return f"{sign}0x{abs(mantissa):x}p{exponent + trailing}"


def decode(text: str) -> Exact:
    """Inverse of :func:`encode`."""
    match = _ENCODED.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not an exact sum (expected e.g. '0x2d9p0'): {text!r}")
    sign, mantissa_hex, exponent_text = match.groups()
    mantissa = int(mantissa_hex, 16)
    return (-mantissa if sign else mantissa), int(exponent_text)


def as_real(value: Any, where: str) -> float | int:
    """``value`` as an int or float, or a clear error naming what was passed."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(f"{where} takes real numbers (int, float, bool); got {value!r}")


@attrs.define(repr=False)
class ExactSum:
    """A running sum that is exact, mergeable, and the same whatever the order of adds.

    Non-finite values are counted apart, so the sum is NaN or infinite exactly when
    ``math.fsum`` over the same values would be.
    """

    _mantissa: int = 0
    _exponent: int = 0
    _nan: int = 0
    _positive_infinities: int = 0
    _negative_infinities: int = 0

    def add(self, value: float | int) -> None:
        """Add one value (an int, float or bool)."""
        parts = split_if_plain(value)
        if parts is None:
            number = as_real(value, "ExactSum.add")
            if isinstance(number, float) and not math.isfinite(number):
                self._add_special(number)
                return
            parts = split(number)
        self.add_exact(*parts)

    def add_exact(self, mantissa: int, exponent: int) -> None:
        """Add ``mantissa * 2**exponent``: for callers that already split their value."""
        if exponent >= self._exponent:
            self._mantissa += mantissa << (exponent - self._exponent)
        else:
            self._mantissa = (self._mantissa << (self._exponent - exponent)) + mantissa
            self._exponent = exponent

    def add_product(self, x: float | int, y: float | int) -> None:
        """Add ``x * y`` exactly (no rounding of the product)."""
        x = as_real(x, "ExactSum.add_product")
        y = as_real(y, "ExactSum.add_product")
        if not (_finite(x) and _finite(y)):
            self._add_special(float(x) * float(y))
            return
        self.add_exact(*multiply(split(x), split(y)))

    def _add_special(self, value: float) -> None:
        if math.isnan(value):
            self._nan += 1
        elif value > 0:
            self._positive_infinities += 1
        else:
            self._negative_infinities += 1

    def merge(self, other: ExactSum) -> None:
        """Fold in another sum, as if its values had been added here."""
        self.add_exact(other._mantissa, other._exponent)
        self._nan += other._nan
        self._positive_infinities += other._positive_infinities
        self._negative_infinities += other._negative_infinities

    @property
    def finite(self) -> bool:
        """Whether no NaN or infinity has been added."""
        return not (self._nan or self._positive_infinities or self._negative_infinities)

    @property
    def special(self) -> float | None:
        """The non-finite value of the sum (NaN, +inf, -inf), or None when it is finite."""
        if self.finite:
            return None
        if self._nan or (self._positive_infinities and self._negative_infinities):
            return math.nan
        return math.inf if self._positive_infinities else -math.inf

    @property
    def exact(self) -> Exact:
        """The finite part of the sum as ``(m, e)``."""
        return self._mantissa, self._exponent

    @property
    def value(self) -> float:
        """The correctly rounded sum."""
        special = self.special
        return special if special is not None else to_float(self.exact)

    def fraction(self) -> Fraction:
        """The exact finite sum as a fraction."""
        if self._exponent >= 0:
            return Fraction(self._mantissa << self._exponent)
        return Fraction(self._mantissa, 1 << -self._exponent)

    def state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot; :meth:`from_state` rebuilds an equal sum.

        The same values give the same state whatever the order they came in.
        """
        state: dict[str, Any] = {"sum": encode(self.exact)}
        for key, count in (
            ("nan", self._nan),
            ("inf", self._positive_infinities),
            ("-inf", self._negative_infinities),
        ):
            if count:
                state[key] = count
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ExactSum:
        """Inverse of :meth:`state`."""
        mantissa, exponent = decode(state["sum"])
        return cls(
            mantissa,
            exponent,
            int(state.get("nan", 0)),
            int(state.get("inf", 0)),
            int(state.get("-inf", 0)),
        )


def _finite(value: float | int) -> bool:
    return not isinstance(value, float) or math.isfinite(value)
