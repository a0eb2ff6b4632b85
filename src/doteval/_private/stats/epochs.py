"""Items answered K times (epochs): split the variance, and put the error bar on items.

With K samples per question the K answers to one question are not independent draws
of the eval; the questions are the units. Following Miller ("Adding Error Bars to
Evals", on resampling each question), with ``x̄_i`` the mean of item i over its
epochs and ``s_i²`` the variance of its K values:

* the grand mean is the mean of the ``x̄_i`` and its standard error is
  ``sqrt(Var(x̄_i) / n_items)`` (items, not item-epochs, are the independent units);
* the within-item variance ``σ_w²`` is estimated by the mean of the ``s_i²``: the noise
  resampling can average away;
* the between-item variance is ``Var(x̄_i) - σ_w² · mean(1/K_i)`` (``σ_w²/K`` for a
  constant K), floored at 0: the spread of the questions' true scores, which no number
  of epochs removes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from doteval._private.stats.estimate import Estimate
from doteval._private.stats.exact import ExactSum, as_real
from doteval._private.stats.moments import Moments


@attrs.frozen
class EpochEstimate:
    """The grand mean of a K-epoch run and its variance decomposition.

    ``estimate.naive_stderr`` is what treating every item-epoch as independent would
    claim; ``estimate.n`` is the number of items.
    """

    estimate: Estimate
    items: int
    observations: int
    item_mean_variance: float | None
    within_variance: float | None
    between_variance: float | None


def _item_mean_and_variance(values: Sequence[float | int | bool | None]) -> tuple[float, float]:
    """Mean and sample variance of one item's epochs, each rounded once from exact sums."""
    moments = Moments()
    for value in values:
        moments.add(_epoch_value(value))
    variance = moments.variance
    return moments.mean or 0.0, math.nan if variance is None else variance


def _epoch_value(value: float | int | bool | None) -> float | int:
    # An epoch that errored scores 0, as the reducers count it.
    if value is None:
        return 0
    number = as_real(value, "EpochMoments.add_item")
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(f"epoch values must be finite, got {value!r}")
    return number


@attrs.define(repr=False)
class EpochMoments:
    """Folds one item's K epoch values at a time; O(1) memory, mergeable, exact."""

    _item_means: Moments = attrs.field(factory=Moments)
    _all: Moments = attrs.field(factory=Moments)
    _within: ExactSum = attrs.field(factory=ExactSum)
    _within_items: int = 0
    _inverse_epochs: ExactSum = attrs.field(factory=ExactSum)

    def add_item(self, values: Sequence[float | int | bool | None]) -> None:
        """Fold in one item's values over its epochs (``None``, an errored epoch, is 0)."""
        if len(values) == 0:
            raise ValueError("an item needs at least one epoch value")
        mean, variance = _item_mean_and_variance(values)
        self._item_means.add(mean)
        for value in values:
            self._all.add(_epoch_value(value))
        self._inverse_epochs.add(1.0 / len(values))
        if len(values) >= 2:
            self._within.add(variance)
            self._within_items += 1

    def merge(self, other: EpochMoments) -> None:
        """Fold in another accumulator's items."""
        self._item_means.merge(other._item_means)
        self._all.merge(other._all)
        self._within.merge(other._within)
        self._within_items += other._within_items
        self._inverse_epochs.merge(other._inverse_epochs)

    def estimate(self, level: float = 0.95) -> EpochEstimate:
        """The grand mean over items, with the decomposition (see the module docstring)."""
        items = self._item_means.count
        estimate = self._item_means.estimate(level)
        naive = self._all.estimate(level).stderr
        if estimate.stderr is not None:
            estimate = attrs.evolve(estimate, naive_stderr=naive)
        item_variance = self._item_means.variance
        within = self._within.value / self._within_items if self._within_items else None
        between = None
        if item_variance is not None and within is not None:
            mean_inverse_k = self._inverse_epochs.value / items
            between = max(0.0, item_variance - within * mean_inverse_k)
        return EpochEstimate(
            estimate=estimate,
            items=items,
            observations=self._all.count,
            item_mean_variance=item_variance,
            within_variance=within,
            between_variance=between,
        )

    def state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot."""
        return {
            "item_means": self._item_means.state(),
            "all": self._all.state(),
            "within": self._within.state(),
            "within_items": self._within_items,
            "inverse_epochs": self._inverse_epochs.state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EpochMoments:
        """Inverse of :meth:`state`."""
        return cls(
            Moments.from_state(state["item_means"]),
            Moments.from_state(state["all"]),
            ExactSum.from_state(state["within"]),
            int(state["within_items"]),
            ExactSum.from_state(state["inverse_epochs"]),
        )


def epoch_estimate(
    per_item: Iterable[Sequence[float | int | bool | None]], level: float = 0.95
) -> EpochEstimate:
    """:class:`EpochEstimate` of a run given each item's list of K epoch values."""
    accumulator = EpochMoments()
    for values in per_item:
        accumulator.add_item(values)
    return accumulator.estimate(level)
