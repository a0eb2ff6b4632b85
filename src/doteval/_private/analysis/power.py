"""``doteval.power``: how many items a comparison needs, or what it can detect.

Two runs on the same items (paired) need far fewer items than two on different ones
when their scores move together: the pilot's spread of per-item differences says
how much fewer. Without a pilot, the spread of a 0/1 score at accuracy ``p`` is
``sqrt(p(1-p))``, and a paired design is planned as if the runs did not move
together (the cautious assumption).
"""

from __future__ import annotations

import math
from typing import Literal

import attrs

from doteval._private.analysis.compare import Comparison
from doteval._private.results.records import EvaluationResult
from doteval._private.stats import power as formulas

Design = Literal["paired", "independent"]


@attrs.frozen
class PowerPlan:
    """A plan: with ``items`` items (per run, when independent), a true difference of
    ``effect`` is detected with probability ``power`` at significance ``alpha``."""

    design: Design
    sd: float
    """The standard deviation it rests on: of per-item differences (paired) or of one
    run's per-item scores (independent)."""
    effect: float
    items: int
    alpha: float
    power: float

    def __str__(self) -> str:
        per_run = " per run" if self.design == "independent" else ""
        return (
            f"{self.items:,} items{per_run} detect a difference of {self.effect:.3f} with "
            f"{self.power:.0%} power at alpha {self.alpha:g} ({self.design} design, "
            f"sd {self.sd:.3f})"
        )


def _from_pilot(
    pilot: EvaluationResult | Comparison, score: str | None, metric: str, design: Design
) -> float:
    table = pilot.differences if isinstance(pilot, Comparison) else pilot.estimates
    if not table:
        raise ValueError("the pilot measured nothing: it has no scores to plan from")
    name = score if score is not None else next(iter(table))
    try:
        found = table[name][metric]
    except KeyError:
        raise ValueError(
            f"the pilot has no {name}.{metric}; it has "
            f"{', '.join(f'{s}.{m}' for s, per in table.items() for m in per)}"
        ) from None
    if found is None or found.stderr is None or not found.n:
        raise ValueError(f"the pilot's {name}.{metric} has no standard error to plan from")
    sd = found.stderr * math.sqrt(found.n)
    if isinstance(pilot, Comparison):
        if design == "independent":
            raise ValueError("a comparison is a paired pilot: plan design='paired' from it")
        return sd
    return sd if design == "independent" else math.sqrt(2.0) * sd


def power(
    *,
    effect: float | None = None,
    items: int | None = None,
    sd: float | None = None,
    p: float | None = None,
    pilot: EvaluationResult | Comparison | None = None,
    score: str | None = None,
    metric: str = "accuracy",
    design: Design = "paired",
    alpha: float = 0.05,
    power: float = 0.8,
) -> PowerPlan:
    """Give ``effect`` to learn the items needed, or ``items`` to learn the smallest
    difference they detect; the spread comes from ``sd``, an accuracy ``p``, or a
    ``pilot`` (a result, or a comparison of two results for a paired design)."""
    if (effect is None) == (items is None):
        raise ValueError("give effect= (to get the items needed) or items= (to get the effect)")
    if design not in ("paired", "independent"):
        raise ValueError(f"design must be 'paired' or 'independent', got {design!r}")
    sources = [source for source in (sd, p, pilot) if source is not None]
    if len(sources) != 1:
        raise ValueError("give exactly one of sd=, p= (an accuracy) or pilot= (a result)")
    if pilot is not None:
        spread = _from_pilot(pilot, score, metric, design)
    elif p is not None:
        one = formulas.binary_sd(p)
        spread = one if design == "independent" else math.sqrt(2.0) * one
    else:
        assert sd is not None
        spread = sd
    if effect is not None:
        needed = (
            formulas.items_needed_paired(effect, spread, alpha=alpha, power=power)
            if design == "paired"
            else formulas.items_needed_independent(effect, spread, alpha=alpha, power=power)
        )
        return PowerPlan(design, spread, abs(effect), needed, alpha, power)
    assert items is not None
    detectable = (
        formulas.mde_paired(items, spread, alpha=alpha, power=power)
        if design == "paired"
        else formulas.mde_independent(items, spread, alpha=alpha, power=power)
    )
    return PowerPlan(design, spread, detectable, items, alpha, power)
