"""Normal, Student-t, chi-square and beta tail probabilities and quantiles.

Pure Python on top of :mod:`doteval._private.stats.special`, so intervals and tests need
neither numpy nor scipy. ``*_sf`` is the upper tail ``P(X > x)`` and ``*_isf`` its
inverse; the quantiles are found by safeguarded Newton steps on the log of whichever
tail is smaller, so tiny tail probabilities keep their relative precision.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

from doteval._private.stats.special import betainc, gammainc, log_beta

_STANDARD_NORMAL = NormalDist()
_SQRT2 = math.sqrt(2.0)


def _check_probability(p: float, name: str = "p") -> None:
    if not 0.0 < p < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {p!r}")


def _check_df(df: float) -> None:
    if not df > 0.0:
        raise ValueError(f"degrees of freedom must be positive, got {df!r}")


def norm_cdf(x: float) -> float:
    """Standard normal ``P(Z <= x)``, accurate far into the lower tail.

    ``erfc`` rather than ``NormalDist.cdf``, whose ``1 + erf`` form underflows to 0 there.
    """
    return 0.5 * math.erfc(-x / _SQRT2)


def norm_sf(x: float) -> float:
    """Standard normal ``P(Z > x)``, accurate far into the upper tail."""
    return 0.5 * math.erfc(x / _SQRT2)


def norm_ppf(p: float) -> float:
    """Standard normal quantile: the ``z`` with ``P(Z <= z) = p``."""
    _check_probability(p)
    return _STANDARD_NORMAL.inv_cdf(p)


def norm_isf(q: float) -> float:
    """The ``z`` with ``P(Z > z) = q`` (``norm_isf(0.025)`` is 1.959963...)."""
    _check_probability(q, "q")
    return -_STANDARD_NORMAL.inv_cdf(q)


def _solve_increasing(
    function: Callable[[float], tuple[float, float]], start: float, tolerance: float = 4e-16
) -> float:
    """Root of an increasing ``g`` given ``function(w) = (g(w), g'(w))``.

    Newton steps, falling back to bisection of the bracket seen so far whenever a step
    would leave it, and to doubling steps while the root is not bracketed yet.
    """
    low, high = -math.inf, math.inf
    w = start
    reach = 1.0
    for _ in range(400):
        value, slope = function(w)
        if value == 0.0:
            return w
        if value < 0.0:
            low = w
        else:
            high = w
        candidate = w - value / slope if slope > 0.0 and math.isfinite(slope) else math.nan
        if not low < candidate < high:
            if math.isfinite(low) and math.isfinite(high):
                candidate = 0.5 * (low + high)
            else:
                reach *= 2.0
                candidate = w + reach if value < 0.0 else w - reach
        if abs(candidate - w) <= tolerance * max(1.0, abs(w)):
            return candidate
        w = candidate
    raise ArithmeticError("quantile search did not converge")


def _beta_logit_quantile(a: float, b: float, target: float, upper: bool, start: float) -> float:
    """The logit ``w = log(x / (1 - x))`` where the chosen tail of Beta(a, b) equals ``target``."""
    log_target = math.log(target)

    def lower_tail(w: float) -> tuple[float, float]:
        x, y = _logistic_pair(w)
        lower, _, density = betainc(a, b, x, y)
        if lower <= 0.0:
            return -math.inf, a
        return math.log(lower) - log_target, density / lower

    def upper_tail(w: float) -> tuple[float, float]:
        # Upper tail falls as w grows: solve for -w so the function increases.
        x, y = _logistic_pair(-w)
        _, upper_value, density = betainc(a, b, x, y)
        if upper_value <= 0.0:
            return -math.inf, b
        return math.log(upper_value) - log_target, density / upper_value

    if upper:
        return -_solve_increasing(upper_tail, -start)
    return _solve_increasing(lower_tail, start)


def _logistic_pair(w: float) -> tuple[float, float]:
    """``(x, 1 - x)`` for ``x = 1 / (1 + e^-w)``, each to full relative precision."""
    if w >= 0.0:
        e = math.exp(-w)
        return 1.0 / (1.0 + e), e / (1.0 + e)
    e = math.exp(w)
    return e / (1.0 + e), 1.0 / (1.0 + e)


# ---------------------------------------------------------------- Student t


def t_sf(t: float, df: float) -> float:
    """Student-t upper tail ``P(T > t)`` with ``df`` degrees of freedom (may be non-integer)."""
    _check_df(df)
    if math.isinf(df):
        return norm_sf(t)
    tail, centre = _t_tail_and_centre(abs(t), df)
    return tail if t >= 0.0 else tail + centre


def t_cdf(t: float, df: float) -> float:
    """Student-t ``P(T <= t)``."""
    return t_sf(-t, df)


def t_pdf(t: float, df: float) -> float:
    """Student-t density."""
    _check_df(df)
    if math.isinf(df):
        return math.exp(-0.5 * t * t) / math.sqrt(2.0 * math.pi)
    log_density = (
        -log_beta(0.5 * df, 0.5) - 0.5 * math.log(df) - 0.5 * (df + 1.0) * math.log1p(t * t / df)
    )
    return math.exp(log_density)


def _t_tail_and_centre(s: float, df: float) -> tuple[float, float]:
    """``(P(T > s), P(-s < T <= s))`` for ``s >= 0``, both to full relative precision."""
    x, y = _t_beta_arguments(s, df)
    lower, upper, _ = betainc(0.5 * df, 0.5, x, y)
    return 0.5 * lower, upper


def _t_beta_arguments(s: float, df: float) -> tuple[float, float]:
    # x = df / (df + s^2), y = s^2 / (df + s^2), without overflowing for huge s.
    r = s / math.sqrt(df)
    if r <= 1.0:
        r2 = r * r
        return 1.0 / (1.0 + r2), r2 / (1.0 + r2)
    u2 = (1.0 / r) ** 2
    return u2 / (1.0 + u2), 1.0 / (1.0 + u2)


def t_isf(q: float, df: float) -> float:
    """The ``t`` with ``P(T > t) = q`` (``t_isf(0.025, 10)`` is 2.228...)."""
    _check_probability(q, "q")
    _check_df(df)
    if math.isinf(df):
        return norm_isf(q)
    if q == 0.5:
        return 0.0
    if q > 0.5:
        return -t_isf(1.0 - q, df)
    s0 = _t_start(q, df)
    # T > s has probability q  <=>  I_x(df/2, 1/2) = 2q with logit(x) = log(df) - 2 log s.
    start = math.log(df) - 2.0 * math.log(s0)
    if q < 0.25:
        w = _beta_logit_quantile(0.5 * df, 0.5, 2.0 * q, upper=False, start=start)
    else:
        w = _beta_logit_quantile(0.5 * df, 0.5, 1.0 - 2.0 * q, upper=True, start=start)
    return math.sqrt(df) * math.exp(-0.5 * w)


def t_ppf(p: float, df: float) -> float:
    """Student-t quantile: the ``t`` with ``P(T <= t) = p``."""
    _check_probability(p)
    return -t_isf(p, df)


def _t_start(q: float, df: float) -> float:
    """A starting point for t_isf: Cornish-Fisher near the normal, the power tail otherwise."""
    z = norm_isf(q)
    cornish_fisher = z + (z**3 + z) / (4.0 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96.0 * df**2)
    # P(T > s) ~ s^-df * df^(df/2 - 1/2) / B(df/2, 1/2) / ... for large s.
    log_tail_scale = 0.5 * (df - 1.0) * math.log(df) - log_beta(0.5 * df, 0.5) - math.log(df)
    power_tail = math.exp((log_tail_scale + 0.5 * math.log(df) - math.log(q)) / df)
    guess = max(cornish_fisher, power_tail) if df < 3.0 else cornish_fisher
    return guess if guess > 0.0 and math.isfinite(guess) else 1.0


# -------------------------------------------------------------- chi-square


def chi2_sf(x: float, df: float) -> float:
    """Chi-square upper tail ``P(X > x)`` with ``df`` degrees of freedom."""
    _check_df(df)
    return gammainc(0.5 * df, 0.5 * x)[1]


def chi2_cdf(x: float, df: float) -> float:
    """Chi-square ``P(X <= x)``."""
    _check_df(df)
    return gammainc(0.5 * df, 0.5 * x)[0]


def chi2_isf(q: float, df: float) -> float:
    """The ``x`` with ``P(X > x) = q`` (``chi2_isf(0.05, 1)`` is 3.841...)."""
    _check_probability(q, "q")
    _check_df(df)
    # Solve on the tail below 1/2, whose target is exact (1 - q is exact for q >= 1/2).
    return _chi2_quantile(q, df, upper=True) if q < 0.5 else _chi2_quantile(1.0 - q, df, False)


def chi2_ppf(p: float, df: float) -> float:
    """Chi-square quantile: the ``x`` with ``P(X <= x) = p``."""
    _check_probability(p)
    _check_df(df)
    return _chi2_quantile(p, df, upper=False) if p < 0.5 else _chi2_quantile(1.0 - p, df, True)


def _chi2_quantile(target: float, df: float, upper: bool) -> float:
    """Solve ``log P(X <= x) = log target`` (or the upper tail) on ``v = log(x / 2)``."""
    a = 0.5 * df
    log_target = math.log(target)

    def lower_tail(v: float) -> tuple[float, float]:
        lower, _, density = gammainc(a, math.exp(v))
        if lower <= 0.0:
            return -math.inf, a
        return math.log(lower) - log_target, density / lower

    def upper_tail(v: float) -> tuple[float, float]:
        # The upper tail falls as x grows: solve on -v so the function increases.
        _, upper_value, density = gammainc(a, math.exp(-v))
        if upper_value <= 0.0:
            return -math.inf, 1.0
        return math.log(upper_value) - log_target, density / upper_value

    start = math.log(0.5 * _chi2_start(1.0 - target if upper else target, df))
    if upper:
        return 2.0 * math.exp(-_solve_increasing(upper_tail, -start))
    return 2.0 * math.exp(_solve_increasing(lower_tail, start))


def _chi2_start(p: float, df: float) -> float:
    """Wilson-Hilferty, or the small-x power law when that falls off zero."""
    z = norm_ppf(min(max(p, 1e-300), 1.0 - 1e-16))
    h = 2.0 / (9.0 * df)
    guess = df * (1.0 - h + z * math.sqrt(h)) ** 3
    small = 2.0 * math.exp((math.log(p) + math.lgamma(0.5 * df + 1.0)) / (0.5 * df))
    if guess <= 0.0 or (p < 0.05 and small < guess):
        guess = small
    return guess if guess > 0.0 and math.isfinite(guess) else df


# -------------------------------------------------------------------- beta


def beta_ppf(p: float, a: float, b: float) -> float:
    """Beta(a, b) quantile: the ``x`` with ``I_x(a, b) = p`` (Clopper-Pearson needs it)."""
    _check_probability(p)
    return _beta_quantile(p, a, b, lower_given=True)


def beta_isf(q: float, a: float, b: float) -> float:
    """The ``x`` with ``1 - I_x(a, b) = q``."""
    _check_probability(q, "q")
    return _beta_quantile(q, a, b, lower_given=False)


def _beta_quantile(probability: float, a: float, b: float, lower_given: bool) -> float:
    if not (a > 0.0 and b > 0.0):
        raise ValueError(f"beta quantiles need a > 0 and b > 0, got a={a}, b={b}")
    lower = probability if lower_given else 1.0 - probability
    start = _beta_start(lower, a, b)
    # Solve on the tail below 1/2, whose target is exact (1 - p is exact for p >= 1/2).
    if probability < 0.5:
        target, upper = probability, not lower_given
    else:
        target, upper = 1.0 - probability, lower_given
    w = _beta_logit_quantile(a, b, target, upper=upper, start=start)
    return _logistic_pair(w)[0]


def _beta_start(lower: float, a: float, b: float) -> float:
    """A logit starting point from the normal approximation, or a tail power law."""
    mean = a / (a + b)
    sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1.0)))
    z = norm_ppf(min(max(lower, 1e-300), 1.0 - 1e-16))
    x = mean + z * sd
    if 0.0 < x < 1.0:
        return math.log(x / (1.0 - x))
    log_b = log_beta(a, b)
    if x <= 0.0:
        return (math.log(max(lower, 1e-300)) + math.log(a) + log_b) / a
    return -(math.log(max(1.0 - lower, 1e-300)) + math.log(b) + log_b) / b
