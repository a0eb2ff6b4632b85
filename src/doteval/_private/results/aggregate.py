"""Folds records into counts, metric values and their estimates as they arrive.

With ``epochs=K`` (or reducers other than the mean) records are grouped by item
first (:mod:`.epochs`): the metrics see one reduced score per item, and ``errors``
counts the items none of whose epochs produced a score. ``cluster=`` names a row
column whose equal values form a cluster; the built-in metrics then also keep
per-cluster sums, for cluster-robust standard errors.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from doteval._private.errors import MetricError
from doteval._private.results.records import Counts, Record
from doteval._private.scoring.metric import (
    Accumulator,
    Metric,
    find_metric,
    is_unavailable,
    resolve_metric,
)
from doteval._private.scoring.reducers import Reducer, mean
from doteval._private.scoring.score import Score
from doteval._private.stats.estimate import Estimate
from doteval._private.text import safe_str

if TYPE_CHECKING:
    from doteval._private.results.epochs import EpochGrouper
    from doteval._private.stats.epochs import EpochEstimate, EpochMoments

SNAPSHOT_FORMAT = 2
"""Snapshots of another format (or of another number of epochs) are not resumed from:
the run reads its stored records back instead."""


class StaleSnapshot(ValueError):
    """A stored snapshot this aggregator cannot continue from."""


def metric_failed(metric: str, score: str, error: Exception) -> MetricError:
    """The error a metric that raised becomes: it names the metric and the score."""
    return MetricError(
        f"metric {metric!r} of score {score!r} raised {type(error).__name__}: "
        f"{safe_str(error)}; the records are stored, so once the metric is fixed "
        f"doteval.load(...) summarises them again"
    )


@attrs.define(repr=False)
class Tally:
    """How many records were taken in, how many were errors, and their attempts."""

    total: int = 0
    errors: int = 0
    attempts: int = 0
    retried: int = 0

    def add(self, record: Record) -> None:
        self.total += 1
        self.attempts += record.attempts
        if record.attempts > 1:
            self.retried += 1
        if record.error is not None:
            self.errors += 1

    @property
    def counts(self) -> Counts:
        return Counts(self.total, self.errors, self.attempts, self.retried)

    def restart_from(self, counts: Counts) -> None:
        self.total, self.errors, self.attempts, self.retried = attrs.astuple(counts)


@attrs.define(repr=False)
class Deferred:
    """A non-incremental metric's place in a persisted run: it needs every value, so its
    value (and estimate) is computed from the store once the run is over instead of
    keeping the values here."""

    metric: Metric
    value: Any = None
    estimate: Estimate | None = None

    def add(self, value: Any) -> None:
        pass

    def result(self, errors: int) -> Any:
        return self.value


@attrs.define(repr=False)
class _Restored:
    """Stored totals of a metric this process had not defined when the run resumed (it is
    defined later, e.g. inside the evaluation): the first live score brings the metric."""

    key: str
    state: Any
    inner: Accumulator

    def add(self, value: Any) -> None:
        self.inner.add(value)

    def result(self, errors: int) -> Any:
        return self.inner.result(errors)


def _state(accumulator: Any) -> Any:
    if hasattr(accumulator, "state"):
        return accumulator.state()
    return attrs.asdict(accumulator)


def _cluster_key(value: Any) -> str | int:
    """A cluster's key as the per-cluster sums keep it (JSON: a string or an integer)."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return value
    return repr(value)


@attrs.define(repr=False)
class Aggregator:
    """The single consumer's running totals: one accumulator per score name and metric.

    With ``defer_custom`` (persisted runs) non-incremental metrics become
    :class:`Deferred`, so memory stays flat however many items run.
    """

    defer_custom: bool = attrs.field(default=False, kw_only=True)
    cluster: str | None = attrs.field(default=None, kw_only=True)
    epochs: int = attrs.field(default=1, kw_only=True)
    reducers: tuple[Reducer, ...] = attrs.field(default=(mean,), kw_only=True)
    level: float = attrs.field(default=0.95, kw_only=True)
    known: Mapping[str, tuple[Metric, ...]] = attrs.field(factory=dict, kw_only=True)
    """Per score name, the metrics to summarise it with, over those its scores name (the
    live run's metrics, when records are read back from the store)."""
    tally: Tally = attrs.field(factory=Tally)
    _accumulators: dict[str, dict[str, Accumulator]] = attrs.field(factory=dict)
    _metrics: dict[str, dict[str, Metric]] = attrs.field(factory=dict)
    _restored: set[str] = attrs.field(factory=set)
    """Score names whose accumulators hold stored totals of metrics not yet defined."""
    _failed: int = 0
    """Items that produced no score (every epoch failed): they count as errors."""
    _failed_clusters: Counter[Any] = attrs.field(factory=Counter)
    _epoch_moments: dict[str, EpochMoments] = attrs.field(factory=dict)
    _grouper: EpochGrouper | None = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._grouper = None
        if self.epochs > 1 or self.reducers != (mean,):
            # deferred: start-up time; only epochs or other reducers group records
            from doteval._private.results.epochs import EpochGrouper

            self._grouper = EpochGrouper(self.epochs, self.reducers, self._cluster_of)

    def _cluster_of(self, record: Record) -> Any:
        if self.cluster is None:
            return None
        row = record.row
        return _cluster_key(row.get(self.cluster) if isinstance(row, Mapping) else None)

    def add(self, record: Record) -> None:
        self.tally.add(record)
        if self._grouper is None:
            self._take(record.scores, self._cluster_of(record), record.error is not None)
            return
        reduced = self._grouper.add(record)
        if reduced is None:
            return
        self._take(reduced.scores, reduced.cluster, reduced.failed)
        if self.epochs > 1:
            for name, values in reduced.epoch_values.items():
                self._add_epoch_values(name, values)

    def _add_epoch_values(self, name: str, values: list[Any]) -> None:
        numbers = [v if type(v) in (int, float, bool) or v is None else None for v in values]
        if all(v is None for v in numbers) and any(v is not None for v in values):
            return  # not numbers: no variance to decompose
        if name not in self._epoch_moments:
            from doteval._private.stats.epochs import EpochMoments  # deferred: start-up time

            self._epoch_moments[name] = EpochMoments()
        self._epoch_moments[name].add_item(numbers)

    def _take(self, scores: tuple[Score, ...], cluster: Any, failed: bool) -> None:
        if failed and not scores:
            self._failed += 1
            if self.cluster is not None:
                self._failed_clusters[cluster] += 1
        for score in scores:
            per_metric = self._accumulators.get(score.name)
            if per_metric is None:
                # The first score of a name decides which metrics summarise it.
                metrics = self.known.get(score.name, score.metrics)
                per_metric = {m.name: self._accumulator(m) for m in metrics}
                self._accumulators[score.name] = per_metric
                self._metrics[score.name] = {m.name: m for m in metrics}
            elif score.name in self._restored:
                self._adopt(score.name, score.metrics)
            for metric_name, accumulator in per_metric.items():
                try:
                    if self.cluster is not None and hasattr(accumulator, "add_clustered"):
                        accumulator.add_clustered(score.value, cluster)
                    else:
                        accumulator.add(score.value)
                except Exception as exc:
                    raise metric_failed(metric_name, score.name, exc) from exc

    def _adopt(self, score: str, metrics: tuple[Metric, ...]) -> None:
        """Give restored totals of once-unknown metrics the metrics a live score carries."""
        self._restored.discard(score)
        per_metric, known = self._accumulators[score], self._metrics[score]
        for chosen in metrics:
            waiting = per_metric.get(chosen.name)
            if isinstance(waiting, _Restored) or (
                isinstance(waiting, Deferred) and is_unavailable(waiting.metric)
            ):
                state = waiting.state if isinstance(waiting, _Restored) else None
                per_metric[chosen.name] = self._accumulator(chosen, state)
                known[chosen.name] = chosen

    @property
    def errors(self) -> int:
        """What the metrics count as errors: failed items."""
        return self._failed

    @property
    def summary(self) -> dict[str, dict[str, Any]]:
        summary: dict[str, dict[str, Any]] = {}
        for name, per_metric in self._accumulators.items():
            summary[name] = {}
            for metric, accumulator in per_metric.items():
                try:
                    summary[name][metric] = accumulator.result(self._failed)
                except Exception as exc:
                    raise metric_failed(metric, name, exc) from exc
        return summary

    @property
    def estimates(self) -> dict[str, dict[str, Estimate | None]]:
        """Each metric's value with its uncertainty (``None`` where it has none)."""
        return {
            name: {metric: self._estimate(accumulator) for metric, accumulator in per.items()}
            for name, per in self._accumulators.items()
        }

    def _estimate(self, accumulator: Any) -> Estimate | None:
        if isinstance(accumulator, Deferred):
            return accumulator.estimate
        estimate = getattr(accumulator, "estimate", None)
        if not callable(estimate):
            return None
        if self.cluster is not None and hasattr(accumulator, "add_clustered"):
            found = estimate(self._failed, self.level, dict(self._failed_clusters))
        else:
            found = estimate(self._failed, self.level)
        return found if isinstance(found, Estimate) else None

    @property
    def variance(self) -> dict[str, EpochEstimate]:
        """With several epochs, per score: its variance within and between items."""
        return {name: moments.estimate(self.level) for name, moments in self._epoch_moments.items()}

    @property
    def counts(self) -> Counts:
        return self.tally.counts

    def _accumulator(self, chosen: Metric, state: Any = None) -> Accumulator:
        if self.defer_custom and not chosen.incremental:
            return Deferred(chosen)
        accumulator = chosen.new_accumulator()
        if state is None:
            return accumulator
        if hasattr(accumulator, "restore"):
            accumulator.restore(copy.deepcopy(state))
            return accumulator
        # A copy: two aggregators resumed from one snapshot must not share its lists.
        for field, value in copy.deepcopy(state).items():
            setattr(accumulator, field, value)
        return accumulator

    def deferred(self) -> list[tuple[str, str, Deferred]]:
        """The non-incremental metrics whose values the caller must compute from the store,
        as ``(score, metric, placeholder)``."""
        return [
            (name, metric, accumulator)
            for name, per_metric in self._accumulators.items()
            for metric, accumulator in per_metric.items()
            if isinstance(accumulator, Deferred)
        ]

    def like(self, *, defer_custom: bool = False) -> Aggregator:
        """A fresh aggregator that groups, clusters and reduces as this one does (by
        default keeping every value, to settle deferred metrics from the store)."""
        return Aggregator(
            defer_custom=defer_custom,
            cluster=self.cluster,
            epochs=self.epochs,
            reducers=self.reducers,
            level=self.level,
            known={name: tuple(metrics.values()) for name, metrics in self._metrics.items()},
        )

    @property
    def groups(self) -> bool:
        """Whether records are grouped before they are summarised (epochs, reducers)."""
        return self._grouper is not None

    def snapshot(self, leave_out: Tally | None = None) -> dict[str, Any]:
        """JSON-ready totals to resume from: per metric its key and, when incremental, its
        state (non-incremental metrics are recomputed from the store).

        ``leave_out`` counts error records this aggregator took in: the snapshot is then
        the one an aggregator of the successes alone would take, as long as those errors
        brought no scores and nothing :attr:`groups` (they changed the counts only).
        """
        scores: dict[str, dict[str, Any]] = {}
        for name, per_metric in self._accumulators.items():
            metrics = self._metrics[name]
            scores[name] = {}
            for metric_name, accumulator in per_metric.items():
                state = None
                if isinstance(accumulator, _Restored):
                    key, state = accumulator.key, accumulator.state
                else:
                    chosen = metrics[metric_name]
                    key = chosen.key
                    if chosen.incremental and not isinstance(accumulator, Deferred):
                        state = _state(accumulator)
                scores[name][metric_name] = {"key": key, "state": state}
        counts = attrs.astuple(self.tally.counts)
        if leave_out is not None:
            counts = tuple(
                a - b for a, b in zip(counts, attrs.astuple(leave_out.counts), strict=True)
            )
        return {
            "format": SNAPSHOT_FORMAT,
            "epochs": self.epochs,
            "counts": list(counts),
            "failed": 0 if leave_out is not None else self._failed,
            "failed_clusters": (
                [] if leave_out is not None else [[k, n] for k, n in self._failed_clusters.items()]
            ),
            "scores": scores,
            "incomplete": [] if self._grouper is None else self._grouper.state(),
            "epoch_moments": {name: m.state() for name, m in self._epoch_moments.items()},
        }

    def resume_from(self, snapshot: Mapping[str, Any]) -> None:
        """Continue from ``snapshot`` (see :meth:`snapshot`) instead of from nothing; a
        snapshot of another format or number of epochs raises :class:`StaleSnapshot`."""
        if snapshot.get("format") != SNAPSHOT_FORMAT or snapshot.get("epochs") != self.epochs:
            raise StaleSnapshot("the stored totals were kept another way")
        self.tally.restart_from(Counts(*snapshot["counts"]))
        self._failed = int(snapshot["failed"])
        self._failed_clusters = Counter({key: n for key, n in snapshot["failed_clusters"]})
        self._accumulators.clear()
        self._metrics.clear()
        self._restored.clear()
        for name, per_metric in snapshot["scores"].items():
            self._restore_score(name, per_metric)
        if self._grouper is not None:
            self._grouper.restore(snapshot["incomplete"])
        self._epoch_moments = {}
        if snapshot["epoch_moments"]:
            from doteval._private.stats.epochs import EpochMoments  # deferred: start-up time

            self._epoch_moments = {
                name: EpochMoments.from_state(state)
                for name, state in snapshot["epoch_moments"].items()
            }

    def _restore_score(self, name: str, per_metric: Mapping[str, Any]) -> None:
        restored: dict[str, Accumulator] = {}
        metrics: dict[str, Metric] = {}
        for metric_name, saved in per_metric.items():
            chosen = find_metric(saved["key"])
            if chosen is None and saved["state"] is not None:
                unknown = resolve_metric(saved["key"])
                restored[metric_name] = _Restored(
                    saved["key"], saved["state"], unknown.new_accumulator()
                )
                metrics[metric_name] = unknown
                self._restored.add(name)
                continue
            chosen = chosen or resolve_metric(saved["key"])
            if is_unavailable(chosen):
                self._restored.add(name)
            metrics[metric_name] = chosen
            restored[metric_name] = self._accumulator(chosen, saved["state"])
        self._accumulators[name] = restored
        self._metrics[name] = metrics
