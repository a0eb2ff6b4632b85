"""One-line text for an estimate or a difference, as reports and terminals show them."""

from __future__ import annotations

import math

from doteval._private.stats.estimate import Difference, Estimate
from doteval._private.text import number


def _level_text(level: float) -> str:
    return f"{level * 100:g}%"


def _decimals(estimate_values: list[float], spread: float | None) -> int:
    """Three decimals for proportion-like numbers; otherwise two significant digits of the ±."""
    if all(0.0 <= v <= 1.0 for v in estimate_values):
        return 3
    if spread is None or spread <= 0.0 or not math.isfinite(spread):
        return 3
    return max(0, 1 - math.floor(math.log10(spread)))


def _number(value: float, decimals: int) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:,.{decimals}f}"


def estimate_text(estimate: Estimate) -> str:
    """``'0.712 ± 0.028 (95% CI 0.684–0.739, n=1,000)'``.

    The ``±`` is the interval's half-width. Values in [0, 1] get three decimals, others
    two significant digits of the half-width; counts get thousands separators; without
    a standard error only the value is shown. A clustered estimate counts clusters.
    """
    if estimate.value is None:
        return f"n/a (n={estimate.n:,})"
    if estimate.stderr is None or estimate.ci is None:
        return number(estimate.value)
    low, high = estimate.ci
    half = 0.5 * (high - low)
    decimals = _decimals([estimate.value, low, high], half)
    units = " clusters" if estimate.method == "clustered" else ""
    return (
        f"{_number(estimate.value, decimals)} ± {_number(half, decimals)}"
        f" ({_level_text(estimate.level)} CI {_number(low, decimals)}–{_number(high, decimals)},"
        f" n={estimate.n:,}{units})"
    )


def format_estimate(metric: str, estimate: Estimate) -> str:
    """``'accuracy 0.712 ± 0.028 (95% CI 0.684–0.739, n=1,000)'``: see ``estimate_text``."""
    return f"{metric} {estimate_text(estimate)}"


def p_value_text(p: float) -> str:
    """``<0.001``, else three decimals: one form for a p-value wherever one is shown."""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _p_text(p: float) -> str:
    text = p_value_text(p)
    return f"p{text}" if text.startswith("<") else f"p={text}"


def difference_text(difference: Difference) -> str:
    """``'+0.031 (95% CI 0.012–0.050, p=0.002 mcnemar-exact; 41 better, 10 worse,
    949 tied)'``: the p-value shown is the Holm-adjusted one when set."""
    counts = f"{difference.better:,} better, {difference.worse:,} worse, {difference.tied:,} tied"
    if difference.delta is None:
        return "n/a (no items scored by both runs)"
    if difference.ci is None:
        return f"{difference.delta:+.3f} ({counts})"
    low, high = difference.ci
    decimals = _decimals([abs(difference.delta), abs(low), abs(high)], 0.5 * (high - low))
    p = difference.p_adjusted if difference.p_adjusted is not None else difference.p_value
    p_part = ""
    if p is not None:
        adjusted = " Holm-adjusted" if difference.p_adjusted is not None else ""
        p_part = f", {_p_text(p)}{adjusted} {difference.test}"
    return (
        f"{difference.delta:+,.{decimals}f}"
        f" ({_level_text(difference.level)} CI {_number(low, decimals)}–{_number(high, decimals)}"
        f"{p_part}; {counts})"
    )


def format_difference(metric: str, difference: Difference) -> str:
    """``'accuracy +0.031 (95% CI ...)'``: see ``difference_text``."""
    return f"{metric} {difference_text(difference)}"
