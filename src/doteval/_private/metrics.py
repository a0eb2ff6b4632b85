"""Metrics aggregate the values of one score name into a single number.

Built-in metrics accumulate as results arrive, so a run never needs the list of
all values; ``@metric`` wraps a plain function over that list for everything else.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import attrs


class Accumulator(Protocol):
    """Running state of one metric for one score name."""

    def add(self, value: Any) -> None: ...

    def result(self, errors: int) -> Any:
        """The metric's value; ``errors`` items failed before producing a value."""
        ...


@attrs.frozen
class Metric:
    """A named way to aggregate score values; pass it in ``Score(metrics=...)``."""

    name: str
    new_accumulator: Callable[[], Accumulator] = attrs.field(repr=False)

    def __call__(self, values: Sequence[Any], errors: int = 0) -> Any:
        """Compute the metric over complete ``values`` (handy in tests and notebooks)."""
        accumulator = self.new_accumulator()
        for value in values:
            accumulator.add(value)
        return accumulator.result(errors)


@attrs.define
class _Accuracy:
    correct: int = 0
    total: int = 0

    def add(self, value: Any) -> None:
        self.total += 1
        if value:
            self.correct += 1

    def result(self, errors: int) -> float:
        # An item that errored is an item the model did not get right.
        denominator = self.total + errors
        return self.correct / denominator if denominator else 0.0


@attrs.define
class _Mean:
    total: float = 0.0
    count: int = 0

    def add(self, value: Any) -> None:
        self.total += float(value)
        self.count += 1

    def result(self, errors: int) -> float:
        return self.total / self.count if self.count else math.nan


@attrs.define
class _Collected:
    compute: Callable[[list[Any]], Any]
    values: list[Any] = attrs.field(factory=list)

    def add(self, value: Any) -> None:
        self.values.append(value)

    def result(self, errors: int) -> Any:
        return self.compute(self.values)


accuracy = Metric("accuracy", _Accuracy)
"""Share of truthy values; items that errored count as incorrect."""

mean = Metric("mean", _Mean)
"""Arithmetic mean of numeric values; items that errored are left out."""


def metric(fn: Callable[[list[Any]], Any]) -> Metric:
    """Turn ``fn(values) -> number`` into a metric named after the function.

    ``fn`` receives the values of every item that produced the score; items that
    errored are not among them (they show in ``result.counts``).
    """

    def new_accumulator() -> Accumulator:
        return _Collected(fn)

    made = Metric(fn.__name__, new_accumulator)
    _BY_NAME[made.name] = made
    return made


_BY_NAME: dict[str, Metric] = {accuracy.name: accuracy, mean.name: mean}
"""Metrics by name, so scores read back from a store get their metrics again."""


@attrs.frozen
class _Unavailable:
    def add(self, value: Any) -> None:
        pass

    def result(self, errors: int) -> Any:
        return None


def resolve_metric(name: str) -> Metric:
    """The metric called ``name``, or a stand-in worth ``None`` if this process lacks it."""
    return _BY_NAME.get(name) or Metric(name, _Unavailable)


def is_incremental(chosen: Metric) -> bool:
    """Built-in metrics fold values as they arrive; custom ones need the list of all values."""
    return chosen is accuracy or chosen is mean
