"""Folds records into counts and metric values as they arrive."""

from __future__ import annotations

from typing import Any

import attrs

from doteval._private.metrics import Accumulator
from doteval._private.records import Counts, Record


@attrs.define
class Aggregator:
    """The single consumer's running totals: one accumulator per score name and metric."""

    keep_records: bool = True
    records: list[Record] = attrs.field(factory=list)
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
                per_metric = {m.name: m.new_accumulator() for m in score.metrics}
                self._accumulators[score.name] = per_metric
            for accumulator in per_metric.values():
                accumulator.add(score.value)
        if self.keep_records:
            self.records.append(record)

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
