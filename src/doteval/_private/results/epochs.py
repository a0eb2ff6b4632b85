"""Grouping the epochs of an item, so its K scores become one per reducer.

Records arrive in the order items finish; an item's epochs arrive close together
(the producer hands them out one after the other), so at most about a window of
items is ever incomplete. An item is complete once each of its epochs has a record;
a run that stores only successes (a resumed run's seed) keeps an item with a failed
epoch incomplete, so that epoch's rerun completes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs

from doteval._private.results.records import Record
from doteval._private.scoring.metric import Metric, find_metric, resolve_metric
from doteval._private.scoring.reducers import Reducer
from doteval._private.scoring.score import Score


@attrs.frozen(repr=False)
class Reduced:
    """One complete item: its reduced scores (none if every epoch failed) and its row."""

    item_id: int
    cluster: Any
    """The item's cluster key (``None`` unless the run is clustered)."""
    scores: tuple[Score, ...]
    epoch_values: dict[str, list[Any]]
    """Per score name, its value in each epoch (``None`` where the epoch failed)."""

    @property
    def failed(self) -> bool:
        return not self.scores


@attrs.define(repr=False)
class EpochGrouper:
    epochs: int
    reducers: tuple[Reducer, ...]
    cluster_of: Callable[[Record], Any]
    _items: dict[int, dict[int, Record]] = attrs.field(factory=dict)
    _clusters: dict[int, Any] = attrs.field(factory=dict)

    @property
    def incomplete(self) -> int:
        return len(self._items)

    def add(self, record: Record) -> Reduced | None:
        """Take in one epoch's record; the item, reduced, once its last epoch arrives."""
        arrived = self._items.setdefault(record.item_id, {})
        arrived[record.epoch] = record
        if record.item_id not in self._clusters:
            self._clusters[record.item_id] = self.cluster_of(record)
        if len(arrived) < self.epochs:
            return None
        del self._items[record.item_id]
        return self._reduce(record.item_id, arrived, self._clusters.pop(record.item_id))

    def _reduce(self, item_id: int, arrived: dict[int, Record], cluster: Any) -> Reduced:
        values: dict[str, list[Any]] = {}
        metrics: dict[str, tuple[Metric, ...]] = {}
        for epoch in range(self.epochs):
            record = arrived.get(epoch)
            if record is None:
                continue
            for score in record.scores:
                if score.name not in values:
                    values[score.name] = [None] * self.epochs
                    metrics[score.name] = score.metrics
                values[score.name][epoch] = score.value
        scores = tuple(
            Score(reducer.score_name(name), reducer.reduce(epoch_values), metrics[name])
            for name, epoch_values in values.items()
            for reducer in self.reducers
        )
        return Reduced(item_id, cluster, scores, values)

    def state(self) -> list[Any]:
        """The incomplete items as JSON: ``[item id, epoch, cluster, [[name, value, metric
        keys], ...]]`` per epoch that arrived."""
        return [
            [
                item_id,
                epoch,
                self._clusters.get(item_id),
                [[s.name, s.value, [m.key for m in s.metrics]] for s in record.scores],
            ]
            for item_id, arrived in self._items.items()
            for epoch, record in arrived.items()
        ]

    def restore(self, state: list[Any]) -> None:
        self._items.clear()
        self._clusters.clear()
        for item_id, epoch, cluster, scores in state:
            self._clusters[item_id] = cluster
            record = Record(
                item_id,
                None,
                tuple(
                    Score(name, value, tuple(_metric(key) for key in keys))
                    for name, value, keys in scores
                ),
                epoch=epoch,
            )
            self._items.setdefault(item_id, {})[epoch] = record

    def __iter__(self) -> Iterator[int]:
        return iter(self._items)


def _metric(key: str) -> Metric:
    return find_metric(key) or resolve_metric(key)
