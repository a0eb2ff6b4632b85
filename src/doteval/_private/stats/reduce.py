"""Reducers: one score per item from its K per-epoch values.

Every reducer takes the item's values in epoch order (epoch 0 first, not in order of
completion). An epoch that errored is ``None`` and counts as incorrect: 0 or False.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from typing import Any

EpochValues = Sequence[Any]


def _correct(value: Any) -> bool:
    return value is not None and bool(value)


def _number(value: Any) -> float:
    return 0.0 if value is None else float(value)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chance that at least one of ``k`` samples drawn without replacement from ``n``
    attempts, ``c`` of them correct, is correct: ``1 - C(n-c, k) / C(n, k)``.

    This is the unbiased estimator of Chen et al. 2021 (HumanEval), which sampling k of
    the n attempts and checking them would only approximate. Integers keep it exact for
    any n (one rounding at the end; no overflow).
    """
    for name, number in (("n", n), ("c", c), ("k", k)):
        if isinstance(number, bool) or not isinstance(number, int):
            raise TypeError(f"pass_at_k needs whole numbers; {name}={number!r}")
    if n < 1:
        raise ValueError(f"pass_at_k needs n >= 1 attempts, got n={n}")
    if not 0 <= c <= n:
        raise ValueError(f"c (correct attempts) must be between 0 and n={n}, got c={c}")
    if not 1 <= k <= n:
        raise ValueError(
            f"pass@{k} needs at least k={k} attempts per item but got n={n}: run at least"
            f" {k} epochs, or ask for pass@k with k <= {n}"
        )
    if n - c < k:
        return 1.0
    total = math.comb(n, k)
    return (total - math.comb(n - c, k)) / total


def pass_at(k: int) -> Callable[[EpochValues], float]:
    """A reducer: pass@k over the item's epochs (n = number of epochs, c = correct ones)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"pass@k needs a whole k >= 1, got {k!r}")

    def reducer(values: EpochValues) -> float:
        return pass_at_k(len(values), sum(_correct(v) for v in values), k)

    reducer.__name__ = f"pass_at_{k}"
    return reducer


def at_least(k: int) -> Callable[[EpochValues], bool]:
    """A reducer: True when at least ``k`` epochs are correct (``at_least(K)`` is "all")."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"at_least needs a whole k >= 1, got {k!r}")

    def reducer(values: EpochValues) -> bool:
        if k > len(values):
            raise ValueError(f"at_least({k}) needs at least {k} epochs, got {len(values)}")
        return sum(_correct(v) for v in values) >= k

    reducer.__name__ = f"at_least_{k}"
    return reducer


def mode(values: EpochValues) -> Hashable:
    """Majority vote: the most frequent value (an errored epoch votes False).

    Ties go to the tied value that appears first in epoch order, so the vote is a
    function of the epochs alone: ``mode([True, False])`` is True and
    ``mode([False, True])`` is False.
    """
    if len(values) == 0:
        raise ValueError("majority vote of no epochs")
    counts: dict[Hashable, int] = {}
    first_seen: dict[Hashable, int] = {}
    for index, value in enumerate(values):
        vote = False if value is None else value
        counts[vote] = counts.get(vote, 0) + 1
        first_seen.setdefault(vote, index)
    return min(counts, key=lambda vote: (-counts[vote], first_seen[vote]))


def mean(values: EpochValues) -> float:
    """The mean over epochs (errored epochs are 0), correctly rounded."""
    if len(values) == 0:
        raise ValueError("mean of no epochs")
    return math.fsum(_number(v) for v in values) / len(values)


def maximum(values: EpochValues) -> float:
    """The best epoch's value (errored epochs are 0)."""
    if len(values) == 0:
        raise ValueError("maximum of no epochs")
    return max(_number(v) for v in values)
