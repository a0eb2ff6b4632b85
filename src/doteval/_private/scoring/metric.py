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
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from doteval._private.stats.clustered import ClusterSums
from doteval._private.stats.estimate import Estimate
from doteval._private.stats.intervals import wilson_interval
from doteval._private.stats.moments import Moments


class Accumulator(Protocol):
    """Running state of one metric for one score name.

    Besides ``add`` and ``result``, an accumulator may define ``estimate(errors,
    level) -> Estimate | None`` (the metric's uncertainty), ``add_clustered(value,
    cluster)`` (used instead of ``add`` when a run names a ``cluster=`` column), and
    ``state()`` / ``restore(state)`` (its JSON state, when its fields are not plain).
    """

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
    instance whose fields are JSON values (counts, sums), or one with ``state()`` and
    ``restore(state)``: a persisted run stores that state and a resumed run continues
    from it. Otherwise the metric is given every value once the run is over, and its
    uncertainty is a seeded bootstrap interval unless ``bootstrap=False`` (then it has
    none). ``numeric=True`` declares that it takes real numbers only: an item whose
    score has another value is recorded as an error. ``key`` is the name it is stored
    and looked up under (default: the accumulator's module and the metric's name).
    """

    name: str
    new_accumulator: Callable[[], Accumulator] = attrs.field(repr=False)
    incremental: bool = attrs.field(default=False, kw_only=True, repr=False)
    numeric: bool = attrs.field(default=False, kw_only=True, repr=False)
    bootstrap: bool = attrs.field(default=True, kw_only=True, repr=False)
    key: str = attrs.field(kw_only=True, eq=False, repr=False)

    @key.default
    def _key(self) -> str:
        return _default_key(self)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"a metric's name must be a non-empty string, got {self.name!r}")
        made = self.new_accumulator() if self.incremental else None
        if made is not None and not (attrs.has(type(made)) or hasattr(made, "restore")):
            raise TypeError(
                f"metric {self.name!r} is declared incremental=True, so its accumulator must "
                f"be an attrs class whose fields are JSON values (a resumed run continues "
                f"from them); got {type(made).__name__}. Make it an "
                f"@attrs.define class (or give it state() and restore()), or leave "
                f"incremental=False"
            )
        _register(self)

    def __call__(self, values: Sequence[Any], errors: int = 0) -> Any:
        """Compute the metric over complete ``values`` (handy in tests and notebooks)."""
        accumulator = self.new_accumulator()
        for value in values:
            accumulator.add(value)
        return accumulator.result(errors)


def credit(value: Any) -> float:
    """How much of an item ``accuracy`` counts as right: a number from 0 to 1 is that share
    (an item right in 1 of 4 epochs is 0.25), anything else counts by its truth."""
    if type(value) is float and 0.0 <= value <= 1.0:
        return value
    return 1.0 if value else 0.0


class _Clustered:
    """Per-cluster sums beside a metric's running values, once a run names a cluster."""

    clusters: ClusterSums | None

    def _cluster(self, cluster: Any, value: float) -> None:
        if self.clusters is None:
            self.clusters = ClusterSums()
        self.clusters.add(cluster, value)

    def _clustered(self, estimate: Estimate, level: float, zeros: Mapping[Any, int]) -> Estimate:
        """The cluster-robust estimate (``zeros``: per cluster, items counted as 0)."""
        if self.clusters is None:
            return estimate
        return self.clusters.with_zeros(zeros).estimate(level)

    def _clusters_state(self) -> dict[str, Any] | None:
        return None if self.clusters is None else self.clusters.state()


@attrs.define(repr=False)
class _Accuracy(_Clustered):
    """The share of items right, with a Wilson interval (0/1 scores) or a CLT one (shares).

    Items that errored count as wrong: as 0 in the value and in the interval.
    """

    credits: Moments = attrs.field(factory=Moments)
    binary: bool = True
    clusters: ClusterSums | None = None

    def add(self, value: Any) -> None:
        share = credit(value)
        if share not in (0.0, 1.0):
            self.binary = False
        self.credits.add(share)

    def add_clustered(self, value: Any, cluster: Any) -> None:
        self.add(value)
        self._cluster(cluster, credit(value))

    def result(self, errors: int) -> float:
        return self.credits.mean_over(self.credits.count + errors)

    def estimate(
        self, errors: int, level: float, zeros: Mapping[Any, int] | None = None
    ) -> Estimate:
        with_errors = self.credits.with_zeros(errors)
        n = with_errors.count
        if not self.binary:
            plain = with_errors.estimate(level)
        elif n == 0:
            plain = Estimate(None, None, None, level=level, n=0, method="none")
        else:
            share = with_errors.mean_over(n)
            successes = round(share * n)
            plain = Estimate(
                share,
                math.sqrt(share * (1 - share) / n),
                wilson_interval(successes, n, level),
                level=level,
                n=n,
                method="wilson",
            )
        return self._clustered(plain, level, zeros or {})

    def state(self) -> dict[str, Any]:
        return {
            "credits": self.credits.state(),
            "binary": self.binary,
            "clusters": self._clusters_state(),
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        self.credits = Moments.from_state(state["credits"])
        self.binary = bool(state["binary"])
        clusters = state.get("clusters")
        self.clusters = None if clusters is None else ClusterSums.from_state(clusters)


@attrs.define(repr=False)
class _Mean(_Clustered):
    """The mean, summed exactly, so it does not depend on the order the values came in: a
    resumed run, which adds the stored values first, gives an uninterrupted run's mean to
    the last digit. Items that errored are left out."""

    values: Moments = attrs.field(factory=Moments)
    clusters: ClusterSums | None = None

    def add(self, value: Any) -> None:
        self.values.add(value)

    def add_clustered(self, value: Any, cluster: Any) -> None:
        self.add(value)
        self._cluster(cluster, float(value))

    def result(self, errors: int) -> float:
        found = self.values.mean
        return math.nan if found is None else found

    def estimate(
        self, errors: int, level: float, zeros: Mapping[Any, int] | None = None
    ) -> Estimate:
        return self._clustered(self.values.estimate(level), level, {})

    def state(self) -> dict[str, Any]:
        return {"values": self.values.state(), "clusters": self._clusters_state()}

    def restore(self, state: Mapping[str, Any]) -> None:
        self.values = Moments.from_state(state["values"])
        clusters = state.get("clusters")
        self.clusters = None if clusters is None else ClusterSums.from_state(clusters)


@attrs.define(repr=False)
class _Collected:
    compute: Callable[[list[Any]], Any]
    values: list[Any] = attrs.field(factory=list)

    def add(self, value: Any) -> None:
        self.values.append(value)

    def result(self, errors: int) -> Any:
        return self.compute(self.values)

    def estimate(self, errors: int, level: float) -> Estimate | None:
        return bootstrap_metric(self.compute, self.values, level)


BOOTSTRAP_WORK = 2_000_000
"""Values a bootstrap may feed its metric in all (resamples × values): at most a few
seconds of a plain Python metric, so a custom metric over a million items still
gets an interval, from fewer resamples."""


def bootstrap_metric(
    compute: Callable[[list[Any]], Any], values: list[Any], level: float
) -> Estimate | None:
    """A seeded bootstrap interval of ``compute`` over ``values`` (the same values give the
    same interval); ``None`` when the metric is not a number."""
    if len(values) < 2:
        return None
    try:
        numeric = float(compute(values))
    except (TypeError, ValueError):
        return None
    # deferred: start-up time; only a metric given all its values at the end needs it
    from doteval._private.stats.bootstrap import bootstrap_estimate

    resamples = max(50, min(1000, BOOTSTRAP_WORK // len(values)))
    try:
        found = bootstrap_estimate(
            values, lambda sample: float(compute(list(sample))), level, resamples=resamples
        )
    except (ArithmeticError, TypeError, ValueError):  # values too large to spread, say
        return None
    return attrs.evolve(found, value=numeric)


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


@attrs.frozen(repr=False)
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
