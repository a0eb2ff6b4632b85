"""Regularized incomplete beta and gamma functions, accurate in both tails.

Student-t, chi-square and beta probabilities all reduce to these two functions. We
write them here (continued fractions and series, with the prefactors computed from a
Stirling expansion so large parameters keep full precision) rather than depend on
scipy at run time. ``tests/test_stats_distributions.py`` checks them against scipy.
"""

from __future__ import annotations

import math

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_EPS = 1e-16
_TINY = 1e-300
_MAX_TERMS = 1_000_000

# Coefficients B_2k / (2k (2k - 1)) of the Stirling series for log Gamma, k = 1..8.
_STIRLING = (
    1.0 / 12.0,
    -1.0 / 360.0,
    1.0 / 1260.0,
    -1.0 / 1680.0,
    1.0 / 1188.0,
    -691.0 / 360360.0,
    1.0 / 156.0,
    -3617.0 / 122400.0,
)
_STIRLING_FROM = 10.0  # below this the series is not accurate to 1e-16


def stirling_error(z: float) -> float:
    """``lgamma(z) - ((z - 1/2) log z - z + log(2 pi)/2)``, small and accurate for large z.

    Keeping this remainder separate lets differences of huge log-gammas (which cancel to
    a few units) be computed without losing the digits ``math.lgamma`` would lose.
    """
    if z < _STIRLING_FROM:
        return math.lgamma(z) - ((z - 0.5) * math.log(z) - z + _HALF_LOG_2PI)
    inv = 1.0 / z
    inv2 = inv * inv
    total = 0.0
    for coefficient in reversed(_STIRLING):
        total = total * inv2 + coefficient
    return total * inv


def log1pmx(u: float) -> float:
    """``log(1 + u) - u`` without the cancellation of computing the two terms apart."""
    if abs(u) > 0.25:
        return math.log1p(u) - u
    # -u^2/2 + u^3/3 - ... ; |u| <= 1/4 so 60 terms are far more than enough.
    power = u * u
    total = 0.0
    for k in range(2, 80):
        term = power / k
        total += -term if k % 2 == 0 else term
        if abs(term) < 1e-17 * abs(total):
            break
        power *= u
    return total


def _log_ratio_minus_linear(value: float, centre: float) -> float:
    """``log(value/centre) - (value/centre - 1)`` for positive value and centre."""
    ratio = value / centre
    if ratio < 0.5:
        return math.log(ratio) - (ratio - 1.0)
    return log1pmx((value - centre) / centre)


def log_beta(a: float, b: float) -> float:
    """``log B(a, b)``, keeping precision when one or both parameters are large."""
    small, large = (a, b) if a <= b else (b, a)
    if large < _STIRLING_FROM:
        return math.lgamma(small) + math.lgamma(large) - math.lgamma(small + large)
    if small < _STIRLING_FROM:
        # lgamma(large) - lgamma(large + small), from the Stirling form of both.
        difference = (
            -small * math.log(large)
            - (large + small - 0.5) * math.log1p(small / large)
            + small
            + stirling_error(large)
            - stirling_error(large + small)
        )
        return math.lgamma(small) + difference
    total = a + b
    return (
        _HALF_LOG_2PI
        + (a - 0.5) * math.log(a / total)
        + (b - 0.5) * math.log(b / total)
        - 0.5 * math.log(total)
        + stirling_error(a)
        + stirling_error(b)
        - stirling_error(total)
    )


def _log_beta_prefactor(a: float, b: float, x: float, y: float) -> float:
    """``log(x^a y^b / B(a, b))`` with ``y = 1 - x`` given separately (both exact)."""
    if a >= _STIRLING_FROM and b >= _STIRLING_FROM:
        # Expand around the mode x0 = a/(a+b): the linear terms cancel exactly, leaving
        # a*log1pmx + b*log1pmx, so nothing of size a+b is ever subtracted.
        total = a + b
        return (
            a * _log_ratio_minus_linear(x, a / total)
            + b * _log_ratio_minus_linear(y, b / total)
            + 0.5 * math.log(a * b / total)
            - _HALF_LOG_2PI
            - stirling_error(a)
            - stirling_error(b)
            + stirling_error(total)
        )
    log_x = math.log1p(-y) if x > 0.5 else math.log(x)
    log_y = math.log1p(-x) if y > 0.5 else math.log(y)
    return a * log_x + b * log_y - log_beta(a, b)


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (modified Lentz); converges for x < (a+1)/(a+b+2)."""
    c = 1.0
    d = 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_TERMS):
        m2 = 2 * m
        numerator = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2))
        d = 1.0 + numerator * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + numerator / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        numerator = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0))
        d = 1.0 + numerator * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + numerator / c
        c = c if abs(c) > _TINY else _TINY
        step = d * c
        h *= step
        if abs(step - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def betainc(a: float, b: float, x: float, y: float | None = None) -> tuple[float, float, float]:
    """Regularized incomplete beta: ``(I_x(a, b), 1 - I_x(a, b), x^a y^b / B(a, b))``.

    Both tails are returned, each to full relative precision (the smaller one is
    computed directly, never as ``1 - larger``). Pass ``y = 1 - x`` when you have it
    more exactly than ``1 - x`` can be rounded. The third value, ``d I / d logit(x)``,
    is what Newton steps on the logit scale need.
    """
    if y is None:
        y = 1.0 - x
    if not (a > 0.0 and b > 0.0):
        raise ValueError(f"incomplete beta needs a > 0 and b > 0, got a={a}, b={b}")
    if x <= 0.0:
        return 0.0, 1.0, 0.0
    if y <= 0.0:
        return 1.0, 0.0, 0.0
    log_prefactor = _log_beta_prefactor(a, b, x, y)
    prefactor = math.exp(log_prefactor)
    if x < (a + 1.0) / (a + b + 2.0):
        lower = prefactor * _beta_fraction(a, b, x) / a
        return lower, 1.0 - lower, prefactor
    upper = prefactor * _beta_fraction(b, a, y) / b
    return 1.0 - upper, upper, prefactor


def _log_gamma_prefactor(a: float, x: float) -> float:
    """``log(x^a e^-x / Gamma(a))``, via Stirling around x = a when a is large."""
    if a >= _STIRLING_FROM:
        return (
            a * _log_ratio_minus_linear(x, a)
            + 0.5 * math.log(a)
            - _HALF_LOG_2PI
            - stirling_error(a)
        )
    return a * math.log(x) - x - math.lgamma(a)


def gammainc(a: float, x: float) -> tuple[float, float, float]:
    """Regularized incomplete gamma: ``(P(a, x), Q(a, x), x^a e^-x / Gamma(a))``.

    As with :func:`betainc` the smaller tail is computed directly; the third value is
    ``d P / d log(x)``.
    """
    if not a > 0.0:
        raise ValueError(f"incomplete gamma needs a > 0, got a={a}")
    if x <= 0.0:
        return 0.0, 1.0, 0.0
    if math.isinf(x):
        return 1.0, 0.0, 0.0
    prefactor = math.exp(_log_gamma_prefactor(a, x))
    if x < a + 1.0:
        # Series: P = prefactor/a * sum x^n / ((a+1)...(a+n)).
        term = 1.0 / a
        total = term
        denominator = a
        for _ in range(_MAX_TERMS):
            denominator += 1.0
            term *= x / denominator
            total += term
            if term < total * _EPS:
                lower = prefactor * total
                return lower, 1.0 - lower, prefactor
        raise ArithmeticError(f"incomplete gamma series did not converge for a={a}, x={x}")
    # Continued fraction for Q (modified Lentz).
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_TERMS):
        numerator = -i * (i - a)
        b += 2.0
        d = numerator * d + b
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = b + numerator / c
        c = c if abs(c) > _TINY else _TINY
        step = d * c
        h *= step
        if abs(step - 1.0) < _EPS:
            upper = prefactor * h
            return 1.0 - upper, upper, prefactor
    raise ArithmeticError(f"incomplete gamma fraction did not converge for a={a}, x={x}")
