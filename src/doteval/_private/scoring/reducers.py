"""Reducers: one score per item from the scores of its K epochs (``epochs=K``).

The ``mean`` reducer (the default) keeps the score's name; every other reducer
names its score ``NAME.REDUCER`` (``exact_match.pass_at_5``). An epoch that errored
counts as an incorrect sample in every reducer. Reduced scores keep the score's
metrics, so after the mean reducer ``accuracy`` is the share of right item-epochs
averaged over items (an item right in 1 of 4 epochs contributes 0.25).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from doteval._private.stats import reduce

EpochValues = Sequence[Any]
"""An item's score values in epoch order; ``None`` for an epoch that errored."""


@attrs.frozen
class Reducer:
    """A named way to combine an item's epoch values into one value."""

    name: str
    reduce: Callable[[EpochValues], Any] = attrs.field(repr=False)

    def score_name(self, score: str) -> str:
        """The name of the reduced score: the score's own for ``mean``."""
        return score if self.name == "mean" else f"{score}.{self.name}"


mean = Reducer("mean", reduce.mean)
"""The mean of the epoch values (an errored epoch counts 0): the default."""

max = Reducer("max", reduce.maximum)
"""The best epoch's value."""

mode = Reducer("mode", reduce.mode)
"""Majority vote (ties go to the value that came first in epoch order)."""


def at_least(k: int) -> Reducer:
    """True when at least ``k`` epochs are right."""
    return Reducer(f"at_least_{k}", reduce.at_least(k))


def pass_at(k: int) -> Reducer:
    """pass@k: the unbiased estimator of Chen et al. 2021 over the item's epochs."""
    return Reducer(f"pass_at_{k}", reduce.pass_at(k))


_NAMED = {"mean": mean, "max": max, "mode": mode}
_WITH_K = re.compile(r"(pass_at|at_least)_(\d+)")


def _one(value: Any) -> Reducer:
    if isinstance(value, Reducer):
        return value
    if isinstance(value, str):
        found = _NAMED.get(value)
        if found is not None:
            return found
        match = _WITH_K.fullmatch(value)
        if match is not None:
            return (pass_at if match[1] == "pass_at" else at_least)(int(match[2]))
        raise ValueError(
            f"no reducer named {value!r}; use mean, max, mode, pass_at_K or at_least_K "
            f"(e.g. 'pass_at_5'), a doteval.reducers object, or a function of an item's "
            f"epoch values"
        )
    if callable(value):
        return Reducer(getattr(value, "__name__", "reduced"), value)
    raise TypeError(
        f"reducers= takes a reducer, a reducer's name or a function, or a list of them; "
        f"got {value!r}"
    )


def resolve_reducers(value: Any) -> tuple[Reducer, ...]:
    """The reducers a run uses: ``None`` is ``(mean,)``."""
    if value is None:
        return (mean,)
    chosen = [value] if isinstance(value, (str, Reducer)) or callable(value) else value
    if not isinstance(chosen, Iterable):
        raise TypeError(f"reducers= takes a reducer or a list of them; got {value!r}")
    found = tuple(_one(item) for item in chosen)
    names = [reducer.name for reducer in found]
    if len(set(names)) != len(names) or not found:
        raise ValueError(f"reducers= needs distinct reducers, got {', '.join(names) or 'none'}")
    return found
