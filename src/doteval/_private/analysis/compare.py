"""``doteval.compare``: two runs over the same items, compared item by item.

Pairing is what makes the comparison sharp (Miller, on paired differences): each
item's score under run b minus its score under run a, so the spread between easy
and hard questions cancels. Items are paired by id and row; items one run lacks
are counted and left out; two runs over different rows are refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from doteval._private.errors import DotevalError
from doteval._private.results.epochs import EpochGrouper
from doteval._private.results.records import EvaluationResult, Record
from doteval._private.scoring.metric import Metric, credit
from doteval._private.scoring.reducers import Reducer, mean
from doteval._private.stats.bootstrap import bootstrap_replicates, percentile
from doteval._private.stats.estimate import Difference
from doteval._private.stats.multiple import holm_adjust
from doteval._private.stats.paired import PairedAccumulator
from doteval._private.storage.reading import load
from doteval._private.text import shorten

UNIT_VALUES: dict[str, Callable[[Any], float]] = {"accuracy": credit, "mean": float}
"""How a built-in metric counts one item: accuracy its share right, mean its value."""


class PairingError(DotevalError, ValueError):
    """The two runs are not over the same rows."""


@attrs.frozen
class Comparison:
    """``comparison[score][metric]`` is the paired :class:`Difference` ``b - a``."""

    a: str
    b: str
    differences: Mapping[str, Mapping[str, Difference]]
    only_a: int = 0
    only_b: int = 0

    def __getitem__(self, score: str) -> Mapping[str, Difference]:
        return self.differences[score]

    def __iter__(self) -> Iterator[str]:
        return iter(self.differences)

    def __len__(self) -> int:
        return len(self.differences)


@attrs.define(repr=False)
class _Item:
    item_id: int
    row: Any
    values: dict[str, Any]
    """Per score name, the item's (reduced) value; absent when the item failed."""
    cluster: Any = None


def _records(result: EvaluationResult) -> Iterable[Record]:
    records = result.records
    if isinstance(records, list | tuple) and not records and result.experiment is not None:
        # keep_records=False: read them from where the run stored them
        records = load(result.experiment, result.evaluation, storage=result.storage).records
    return records


def _items(
    result: EvaluationResult,
    epochs: int,
    reducers: tuple[Reducer, ...],
    cluster: str | None,
    metrics: dict[str, tuple[Metric, ...]],
) -> Iterator[_Item]:
    """The run's items in id order, each with its scores reduced over its epochs."""

    def key(record: Record) -> Any:
        row = record.row
        return row.get(cluster) if cluster is not None and isinstance(row, Mapping) else None

    grouper = EpochGrouper(epochs, reducers, key)
    rows: dict[int, Any] = {}
    for record in _records(result):
        rows.setdefault(record.item_id, record.row)
        reduced = grouper.add(record)
        if reduced is None:
            continue
        values = {}
        for score in reduced.scores:
            values[score.name] = score.value
            metrics.setdefault(score.name, score.metrics)
        yield _Item(reduced.item_id, rows.pop(reduced.item_id), values, reduced.cluster)


def _pairs(
    a: Iterator[_Item], b: Iterator[_Item], names: tuple[str, str]
) -> Iterator[tuple[_Item | None, _Item | None]]:
    """Merge-join by item id; the same id must hold the same row."""
    left, right = next(a, None), next(b, None)
    while left is not None or right is not None:
        if right is None or (left is not None and left.item_id < right.item_id):
            yield left, None
            left = next(a, None)
        elif left is None or right.item_id < left.item_id:
            yield None, right
            right = next(b, None)
        else:
            if left.row != right.row:
                raise PairingError(
                    f"{names[0]} and {names[1]} were not run over the same data: item "
                    f"{left.item_id} is {shorten(left.row, 80)} in one and "
                    f"{shorten(right.row, 80)} in the other; compare runs of one dataset"
                )
            yield left, right
            left, right = next(a, None), next(b, None)


@attrs.define(repr=False)
class _Pairing:
    """The pairs of one score under one metric."""

    metric: Metric
    accumulator: PairedAccumulator = attrs.field(factory=PairedAccumulator)
    values: list[tuple[Any, Any]] = attrs.field(factory=list)
    """Kept for a metric of your own, whose difference is bootstrapped over items."""

    def add(self, a: Any, b: Any, cluster: Any) -> None:
        unit = UNIT_VALUES.get(self.metric.name) if self.metric.incremental else None
        if unit is None:
            if a is not None and b is not None:
                self.values.append((a, b))
            self.accumulator.add(
                None if a is None else 0, None if b is None else 0
            )  # counts the pairs and the items one run lacks
            return
        self.accumulator.add(
            None if a is None else unit(a),
            None if b is None else unit(b),
            None if cluster is None else _cluster(cluster),
        )

    def difference(self, level: float) -> Difference:
        counts = self.accumulator.difference(level)
        if not self.values:
            return counts
        return _bootstrapped(self.metric, self.values, level, counts)


def _cluster(value: Any) -> str | int:
    return value if isinstance(value, str | int) and not isinstance(value, bool) else repr(value)


def _bootstrapped(
    metric: Metric, pairs: list[tuple[Any, Any]], level: float, counts: Difference
) -> Difference:
    """A metric over lists: the paired bootstrap resamples items, keeping each pair."""

    def delta(sample: list[tuple[Any, Any]]) -> float:
        return float(metric([b for _, b in sample])) - float(metric([a for a, _ in sample]))

    try:
        observed = delta(pairs)
        replicates = sorted(bootstrap_replicates(pairs, delta, resamples=1000))  # type: ignore[arg-type]
    except (ArithmeticError, TypeError, ValueError):
        return attrs.evolve(counts, delta=None, stderr=None, ci=None, p_value=None, test="none")
    centre = math.fsum(replicates) / len(replicates)
    stderr = math.sqrt(math.fsum((r - centre) ** 2 for r in replicates) / (len(replicates) - 1))
    tail = 0.5 * (1.0 - level)
    below = sum(r <= 0 for r in replicates) + 1
    above = sum(r >= 0 for r in replicates) + 1
    p = min(1.0, 2 * min(below, above) / (len(replicates) + 1))
    return attrs.evolve(
        counts,
        delta=observed,
        stderr=stderr,
        ci=(percentile(replicates, tail), percentile(replicates, 1.0 - tail)),
        p_value=p,
        test="paired-bootstrap",
    )


def compare(
    a: EvaluationResult,
    b: EvaluationResult,
    *,
    level: float = 0.95,
    cluster: str | None = None,
) -> Comparison:
    """How run ``b`` differs from run ``a`` on the items both ran: per score and metric a
    :class:`Difference` (``b - a``) with a paired test; several at once are Holm-adjusted.

    ``a`` and ``b`` are results, as a run or ``doteval.load`` returns them; ``cluster``
    names a row column whose equal values form a cluster (cluster-robust errors).
    """
    names = (_label(a), _label(b))
    reducers = (mean,)  # each item's mean over its epochs is what a pair compares
    metrics: dict[str, tuple[Metric, ...]] = {}
    pairings: dict[str, dict[str, _Pairing]] = {}
    only_a = only_b = 0
    for left, right in _pairs(
        _items(a, a.epochs, reducers, cluster, metrics),
        _items(b, b.epochs, reducers, cluster, metrics),
        names,
    ):
        if right is None:
            only_a += 1
            continue
        if left is None:
            only_b += 1
            continue
        for score in set(left.values) | set(right.values):
            per_metric = pairings.setdefault(
                score, {m.name: _Pairing(m) for m in metrics.get(score, ())}
            )
            for pairing in per_metric.values():
                pairing.add(
                    _failed_as(pairing.metric, left.values.get(score)),
                    _failed_as(pairing.metric, right.values.get(score)),
                    left.cluster,
                )
    flat = [
        (score, metric, pairing.difference(level))
        for score, per_metric in pairings.items()
        for metric, pairing in per_metric.items()
    ]
    adjusted = (
        holm_adjust([found for _, _, found in flat])
        if len(flat) > 1
        else [found for _, _, found in flat]
    )
    differences: dict[str, dict[str, Difference]] = {}
    for (score, metric, _), found in zip(flat, adjusted, strict=True):
        differences.setdefault(score, {})[metric] = attrs.evolve(
            found, only_a=only_a, only_b=only_b
        )
    return Comparison(names[0], names[1], differences, only_a, only_b)


def _failed_as(metric: Metric, value: Any) -> Any:
    """An item without this score (it failed) counts as wrong for accuracy, as in a run's
    own accuracy; other metrics leave it out of the pairs."""
    if value is None and metric.name == "accuracy":
        return 0.0
    return value


def _label(result: EvaluationResult) -> str:
    return f"{result.experiment}/{result.evaluation}" if result.experiment else result.evaluation
