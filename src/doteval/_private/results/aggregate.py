"""Folds records into counts and metric values as they arrive."""

from __future__ import annotations

import copy
from typing import Any

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
from doteval._private.text import safe_str


def metric_failed(metric: str, score: str, error: Exception) -> MetricError:
    """The error a metric that raised becomes: it names the metric and the score."""
    return MetricError(
        f"metric {metric!r} of score {score!r} raised {type(error).__name__}: "
        f"{safe_str(error)}; the records are stored, so once the metric is fixed "
        f"doteval.load(...) summarises them again"
    )


@attrs.define
class Deferred:
    """A non-incremental metric's place in a persisted run: it needs every value, so its
    value is computed from the store once the run is over instead of keeping the values."""

    metric: Metric
    value: Any = None

    def add(self, value: Any) -> None:
        pass

    def result(self, errors: int) -> Any:
        return self.value


@attrs.define
class _Restored:
    """Stored totals of a metric this process had not defined when the run resumed (it is
    defined later, e.g. inside the evaluation): the first live score brings the metric."""

    key: str
    state: dict[str, Any] | None
    inner: Accumulator

    def add(self, value: Any) -> None:
        self.inner.add(value)

    def result(self, errors: int) -> Any:
        return self.inner.result(errors)


@attrs.define
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


@attrs.define
class Aggregator:
    """The single consumer's running totals: one accumulator per score name and metric.

    With ``defer_custom`` (persisted runs) non-incremental metrics become
    :class:`Deferred`, so memory stays flat however many items run.
    """

    defer_custom: bool = attrs.field(default=False, kw_only=True)
    _accumulators: dict[str, dict[str, Accumulator]] = attrs.field(factory=dict)
    _metrics: dict[str, dict[str, Metric]] = attrs.field(factory=dict)
    _restored: set[str] = attrs.field(factory=set)
    """Score names whose accumulators hold stored totals of metrics not yet defined."""
    tally: Tally = attrs.field(factory=Tally)

    def add(self, record: Record) -> None:
        self.tally.add(record)
        for score in record.scores:
            per_metric = self._accumulators.get(score.name)
            if per_metric is None:
                # The first score of a name decides which metrics summarise it.
                per_metric = {m.name: self._accumulator(m) for m in score.metrics}
                self._accumulators[score.name] = per_metric
                self._metrics[score.name] = {m.name: m for m in score.metrics}
            elif score.name in self._restored:
                self._adopt(score.name, score.metrics)
            for metric_name, accumulator in per_metric.items():
                try:
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
    def summary(self) -> dict[str, dict[str, Any]]:
        summary: dict[str, dict[str, Any]] = {}
        for name, per_metric in self._accumulators.items():
            summary[name] = {}
            for metric, accumulator in per_metric.items():
                try:
                    summary[name][metric] = accumulator.result(self.tally.errors)
                except Exception as exc:
                    raise metric_failed(metric, name, exc) from exc
        return summary

    @property
    def counts(self) -> Counts:
        return self.tally.counts

    def _accumulator(self, chosen: Metric, state: dict[str, Any] | None = None) -> Accumulator:
        if self.defer_custom and not chosen.incremental:
            return Deferred(chosen)
        accumulator = chosen.new_accumulator()
        # A copy: two aggregators resumed from one snapshot must not share its lists.
        for field, value in copy.deepcopy(state or {}).items():
            setattr(accumulator, field, value)
        return accumulator

    def deferred(self) -> list[tuple[str, Deferred]]:
        """The non-incremental metrics whose values the caller must compute from the store."""
        return [
            (name, accumulator)
            for name, per_metric in self._accumulators.items()
            for accumulator in per_metric.values()
            if isinstance(accumulator, Deferred)
        ]

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready totals to resume from: per metric its key and, when incremental, its
        state (non-incremental metrics are recomputed from the store)."""
        scores: dict[str, dict[str, Any]] = {}
        for name, per_metric in self._accumulators.items():
            metrics = self._metrics[name]
            scores[name] = {}
            for metric_name, accumulator in per_metric.items():
                state = None
                if isinstance(accumulator, _Restored):
                    key, state = accumulator.key, accumulator.state
                else:
                    key = metrics[metric_name].key
                    if not isinstance(accumulator, Deferred):
                        state = attrs.asdict(accumulator)  # type: ignore[arg-type]
                scores[name][metric_name] = {"key": key, "state": state}
        return {
            "counts": list(attrs.astuple(self.tally.counts)),
            "scores": scores,
        }

    def resume_from(self, snapshot: dict[str, Any]) -> None:
        """Continue from ``snapshot`` (see :meth:`snapshot`) instead of from nothing."""
        self.tally.restart_from(Counts(*snapshot["counts"]))
        self._accumulators.clear()
        self._metrics.clear()
        self._restored.clear()
        for name, per_metric in snapshot["scores"].items():
            restored: dict[str, Accumulator] = {}
            metrics: dict[str, Metric] = {}
            for metric_name, saved in per_metric.items():
                # Written before metric keys were stored: the state alone, keyed by name.
                if not (isinstance(saved, dict) and set(saved) == {"key", "state"}):
                    saved = {"key": metric_name, "state": saved}
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
