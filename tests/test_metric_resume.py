"""A resumed run gives the summary of an uninterrupted one, whatever kind of metric."""

from __future__ import annotations

import statistics
from typing import Any

import anyio
import attrs
import pytest

import doteval
from doteval.metrics import Metric, accuracy, mean, metric


@metric
def median(values: list[Any]) -> float:
    return float(statistics.median(values))


@attrs.define
class _Highest:
    """An incremental accumulator: its fields are JSON values a resume continues from."""

    highest: float | None = None

    def add(self, value: Any) -> None:
        self.highest = value if self.highest is None else max(self.highest, value)

    def result(self, errors: int) -> float | None:
        return self.highest


@attrs.define
class _Spread:
    """A non-incremental accumulator: it needs every value."""

    values: list[float] = attrs.field(factory=list)

    def add(self, value: Any) -> None:
        self.values.append(float(value))

    def result(self, errors: int) -> float:
        return max(self.values) - min(self.values)


highest = Metric("highest", _Highest, incremental=True)
spread = Metric("spread", _Spread)

ROWS = [(i, (i * 37) % 11) for i in range(30)]


def make_evaluation(failing: set[int]) -> doteval.Evaluation:
    async def eval_metrics(n: int, value: int) -> list[doteval.Score]:
        await anyio.lowlevel.checkpoint()
        if n in failing:
            raise ValueError(f"item {n} fails this time")
        return [
            doteval.Score("right", value % 2 == 0, [accuracy]),
            doteval.Score("value", value, [mean, median, highest, spread]),
        ]

    return doteval.foreach("n,value", ROWS)(eval_metrics)


async def test_a_resumed_run_summarises_like_an_uninterrupted_one(store_url: str) -> None:
    whole = await make_evaluation(set())(experiment="whole", storage=store_url)
    assert whole.summary["value"]["highest"] == 10
    assert whole.summary["value"]["spread"] == 10

    failing = {0, 3, 4, 17, 29}
    first = await make_evaluation(failing)(experiment="resumed", storage=store_url)
    assert first.counts.errors == len(failing)
    resumed = await make_evaluation(set())(experiment="resumed", storage=store_url)
    assert resumed.counts.errors == 0
    assert resumed.summary == whole.summary
    loaded = doteval.load("resumed", storage=store_url)
    assert loaded.summary == whole.summary


def test_every_metric_is_registered_under_its_module_qualified_key() -> None:
    assert accuracy.key == "doteval.metrics.accuracy"
    assert median.key == f"{__name__}.median"
    assert highest.key == f"{__name__}.highest"
    assert [m.incremental for m in (accuracy, mean, highest, median, spread)] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_an_incremental_metric_needs_an_attrs_accumulator() -> None:
    class Plain:
        def add(self, value: Any) -> None: ...

        def result(self, errors: int) -> None: ...

    with pytest.raises(TypeError, match=r"incremental=True.*attrs class"):
        Metric("plain", Plain, incremental=True)
