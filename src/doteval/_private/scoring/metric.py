"""Metrics aggregate the values of one score name into a single number.

A metric is *incremental* when it folds values as they arrive into state that is
saved with the run (``accuracy``, ``mean``): a resumed run continues from the
stored totals. Any other metric needs the list of all values, which a persisted
run reads back from the store once the run is over. Every metric is registered
under its module-qualified name, so a resumed run or ``doteval.load`` finds it
again by what the store recorded.
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


def _default_key(metric: Metric) -> str:
    module = getattr(metric.new_accumulator, "__module__", None) or "unknown"
    return f"{module}.{metric.name}"


@attrs.frozen
class Metric:
    """A named way to aggregate score values; pass it in ``Score(metrics=...)``.

    ``incremental=True`` declares that ``new_accumulator()`` returns an attrs
    instance whose fields are JSON values (counts, sums): a persisted run stores
    that state and a resumed run continues from it. Otherwise the metric is given
    every value once the run is over. ``numeric=True`` declares that it takes real
    numbers only: an item whose score has another value is recorded as an error.
    ``key`` is the name it is stored and looked up under (default: the
    accumulator's module and the metric's name).
    """

    name: str
    new_accumulator: Callable[[], Accumulator] = attrs.field(repr=False)
    incremental: bool = attrs.field(default=False, kw_only=True, repr=False)
    numeric: bool = attrs.field(default=False, kw_only=True, repr=False)
    key: str = attrs.field(kw_only=True, eq=False, repr=False)

    @key.default
    def _key(self) -> str:
        return _default_key(self)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"a metric's name must be a non-empty string, got {self.name!r}")
        if self.incremental and not attrs.has(type(self.new_accumulator())):
            raise TypeError(
                f"metric {self.name!r} is declared incremental=True, so its accumulator must "
                f"be an attrs class whose fields are JSON values (a resumed run continues "
                f"from them); got {type(self.new_accumulator()).__name__}. Make it an "
                f"@attrs.define class, or leave incremental=False"
            )
        _register(self)

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
    """The sum is kept exactly (Shewchuk's partials, as ``math.fsum`` uses), so the mean
    does not depend on the order the values arrived in: a resumed run, which adds the
    stored values first, gives the mean of an uninterrupted one to the last digit."""

    total: float = 0.0
    count: int = 0
    partials: list[float] = attrs.field(factory=list)
    infinite: float = 0.0
    """The sum of the infinite values, kept apart: they have no exact partials."""

    def add(self, value: Any) -> None:
        if self.total and not self.partials and not self.infinite:
            self.partials = [self.total]  # stored before partials were kept
        number = float(value)
        if math.isfinite(number):
            _add_exactly(self.partials, number)
        else:
            self.infinite += number
        self.total = math.fsum(self.partials) + self.infinite
        self.count += 1

    def result(self, errors: int) -> float:
        return self.total / self.count if self.count else math.nan


def _add_exactly(partials: list[float], value: float) -> None:
    """Add ``value`` to the exact sum held as non-overlapping ``partials`` (in place)."""
    kept = 0
    for partial in partials:
        if abs(value) < abs(partial):
            value, partial = partial, value
        high = value + partial
        low = partial - (high - value)
        if low:
            partials[kept] = low
            kept += 1
        value = high
    partials[kept:] = [value]


@attrs.define
class _Collected:
    compute: Callable[[list[Any]], Any]
    values: list[Any] = attrs.field(factory=list)

    def add(self, value: Any) -> None:
        self.values.append(value)

    def result(self, errors: int) -> Any:
        return self.compute(self.values)


_BY_KEY: dict[str, Metric] = {}
_BY_NAME: dict[str, list[Metric]] = {}


_UNAVAILABLE = "unavailable:"


def _register(made: Metric) -> None:
    """Remember ``made`` under its key; a later definition of the same key replaces it
    (a module imported again, a notebook cell run twice)."""
    if made.key.startswith(_UNAVAILABLE):  # a stand-in, not a metric anyone defined
        return
    previous = _BY_KEY.get(made.key)
    _BY_KEY[made.key] = made
    same_name = _BY_NAME.setdefault(made.name, [])
    if previous is not None and previous in same_name:
        same_name.remove(previous)
    same_name.append(made)


accuracy = Metric("accuracy", _Accuracy, incremental=True, key="doteval.metrics.accuracy")
"""Share of truthy values; items that errored count as incorrect."""

mean = Metric("mean", _Mean, incremental=True, numeric=True, key="doteval.metrics.mean")
"""Arithmetic mean of numeric values; items that errored are left out."""


def metric(fn: Callable[[list[Any]], Any]) -> Metric:
    """Turn ``fn(values) -> number`` into a metric named after the function.

    ``fn`` receives the values of every item that produced the score; items that
    errored are not among them (they show in ``result.counts``).
    """

    def new_accumulator() -> Accumulator:
        return _Collected(fn)

    return Metric(fn.__name__, new_accumulator, key=f"{fn.__module__}.{fn.__qualname__}")


@attrs.frozen
class _Unavailable:
    def add(self, value: Any) -> None:
        pass

    def result(self, errors: int) -> Any:
        return None


def find_metric(key: str) -> Metric | None:
    """The metric stored as ``key``: a module-qualified key, or (for stores written before
    keys) a bare name that only one registered metric has."""
    found = _BY_KEY.get(key)
    if found is None:
        named = _BY_NAME.get(key, ())
        found = named[0] if len(named) == 1 else None
    return found


def resolve_metric(key: str) -> Metric:
    """The metric stored as ``key``, or a stand-in worth ``None`` if this process lacks it."""
    found = find_metric(key)
    if found is not None:
        return found
    name = key.rpartition(".")[2] if key not in _BY_NAME else key
    return Metric(name, _Unavailable, key=_UNAVAILABLE + key)


def is_unavailable(chosen: Metric) -> bool:
    """A stand-in for a metric this process does not define (see :func:`resolve_metric`)."""
    return chosen.key.startswith(_UNAVAILABLE)
