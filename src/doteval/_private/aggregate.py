"""Folds records into counts and metric values as they arrive."""

from __future__ import annotations

from typing import Any

import attrs

from doteval._private.metrics import Accumulator, Metric, is_incremental, resolve_metric
from doteval._private.records import Counts, Record


@attrs.define
class Deferred:
    """A custom metric's place in a persisted run: it needs every value, so its value is
    computed from the store once the run is over instead of keeping the values here."""

    metric: Metric
    value: Any = None

    def add(self, value: Any) -> None:
        pass

    def result(self, errors: int) -> Any:
        return self.value


@attrs.define
class Aggregator:
    """The single consumer's running totals: one accumulator per score name and metric.

    With ``defer_custom`` (persisted runs) custom metrics become :class:`Deferred`, so
    memory stays flat however many items run.
    """

    defer_custom: bool = attrs.field(default=False, kw_only=True)
    _accumulators: dict[str, dict[str, Accumulator]] = attrs.field(factory=dict)
    _total: int = 0
    _errors: int = 0
    _attempts: int = 0
    _retried: int = 0

    def add(self, record: Record) -> None:
        self._total += 1
        self._attempts += record.attempts
        if record.attempts > 1:
            self._retried += 1
        if record.error is not None:
            self._errors += 1
        for score in record.scores:
            per_metric = self._accumulators.get(score.name)
            if per_metric is None:
                # The first score of a name decides which metrics summarise it.
                per_metric = {m.name: self._accumulator(m) for m in score.metrics}
                self._accumulators[score.name] = per_metric
            for accumulator in per_metric.values():
                accumulator.add(score.value)

    @property
    def summary(self) -> dict[str, dict[str, Any]]:
        return {
            name: {
                metric: accumulator.result(self._errors)
                for metric, accumulator in per_metric.items()
            }
            for name, per_metric in self._accumulators.items()
        }

    @property
    def counts(self) -> Counts:
        return Counts(self._total, self._errors, self._attempts, self._retried)

    def _accumulator(self, chosen: Metric) -> Accumulator:
        if self.defer_custom and not is_incremental(chosen):
            return Deferred(chosen)
        return chosen.new_accumulator()

    def deferred(self) -> list[tuple[str, Deferred]]:
        """The custom metrics whose values the caller must compute from the store."""
        return [
            (name, accumulator)
            for name, per_metric in self._accumulators.items()
            for accumulator in per_metric.values()
            if isinstance(accumulator, Deferred)
        ]

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready totals to resume from; custom metrics keep only their names."""
        return {
            "counts": [self._total, self._errors, self._attempts, self._retried],
            "scores": {
                name: {
                    metric: attrs.asdict(accumulator)  # type: ignore[arg-type]
                    if attrs.has(type(accumulator)) and not isinstance(accumulator, Deferred)
                    else None
                    for metric, accumulator in per_metric.items()
                }
                for name, per_metric in self._accumulators.items()
            },
        }

    def resume_from(self, snapshot: dict[str, Any]) -> None:
        """Continue from ``snapshot`` (see :meth:`snapshot`) instead of from nothing."""
        self._total, self._errors, self._attempts, self._retried = snapshot["counts"]
        self._accumulators.clear()
        for name, per_metric in snapshot["scores"].items():
            restored: dict[str, Accumulator] = {}
            for metric_name, state in per_metric.items():
                accumulator = self._accumulator(resolve_metric(metric_name))
                if state is not None and not isinstance(accumulator, Deferred):
                    for field, value in state.items():
                        setattr(accumulator, field, value)
                restored[metric_name] = accumulator
            self._accumulators[name] = restored
