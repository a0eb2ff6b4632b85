"""Adjusting p-values when several comparisons are made at once."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from doteval._private.stats.estimate import Difference


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment, in the input order.

    Comparing one model against several others (or on several metrics) at 5 % each
    finds a "significant" difference by chance far more often than 5 %. Holm controls
    the chance of any false claim at the chosen level and is never less powerful than
    Bonferroni, with no assumption about how the tests depend on each other.
    """
    for p in p_values:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p-values lie between 0 and 1, got {p!r}")
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def holm_adjust(differences: Sequence[Difference]) -> list[Difference]:
    """The differences with ``p_adjusted`` set by :func:`holm` over those that have a p-value."""
    tested = [i for i, d in enumerate(differences) if d.p_value is not None]
    adjusted = holm([differences[i].p_value for i in tested])  # type: ignore[misc]
    result = list(differences)
    for index, p in zip(tested, adjusted, strict=True):
        result[index] = attrs.evolve(differences[index], p_adjusted=p)
    return result
