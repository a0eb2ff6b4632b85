"""A bad value from one item is that item's error record, and no value is summarised wrongly."""

from __future__ import annotations

import math
import sqlite3
from fractions import Fraction
from typing import Any

import anyio
import hypothesis
import hypothesis.strategies as st
import numpy as np
import pytest

import doteval
from doteval.metrics import Metric, MetricError, accuracy, mean, metric
from doteval.storage import FAILED


@metric
def highest(values: list[Any]) -> Any:
    return max(values)


@metric
def total(values: list[Any]) -> Any:
    return sum(values)


async def _run(rows: list[Any], score: Any, url: str, **options: Any) -> doteval.EvaluationResult:
    async def eval_values(n: int) -> Any:
        await anyio.lowlevel.checkpoint()
        return score(n)

    eval_values.__qualname__ = f"eval_values_{abs(hash(url)) % 10_000}"
    evaluation = doteval.foreach("n", rows)(eval_values)
    return await evaluation(storage=url, progress=False, experiment="values", **options)


async def test_numpy_scalars_are_summarised_as_numbers(store_url: str) -> None:
    values = [np.float32(3.0), np.float64(10.0), np.int64(2), np.float32(0.5)]
    result = await _run(
        list(range(4)), lambda n: doteval.Score("x", values[n], [highest, total, mean]), store_url
    )
    assert result.summary == {"x": {"highest": 10.0, "total": 15.5, "mean": 3.875}}
    assert type(result.summary["x"]["highest"]) is float
    assert doteval.load("values", storage=store_url).summary == result.summary
    stored = list(doteval.load("values", storage=store_url).records)
    assert [type(record.scores[0].value) for record in stored] == [float, float, int, float]


async def test_numpy_bools_count_by_their_truth(store_url: str) -> None:
    result = await _run(list(range(4)), lambda n: doteval.Score("ok", np.bool_(n == 0)), store_url)
    assert result.summary == {"ok": {"accuracy": 0.25}}
    assert doteval.load("values", storage=store_url).summary == result.summary
    [info] = doteval.experiments(storage=store_url)[0].evaluations
    assert info.summary == result.summary


async def test_a_nan_score_is_an_error_record_not_a_correct_answer(store_url: str) -> None:
    result = await _run(
        list(range(3)), lambda n: doteval.Score("ok", math.nan if n == 1 else True), store_url
    )
    assert result.counts.errors == 1
    [error] = [record.error for record in result.errors]
    assert error is not None
    assert error.type == "doteval.ReturnValueError"
    assert "'ok' is NaN" in error.message
    assert result.summary == {"ok": {"accuracy": 2 / 3}}


class ReprFails:
    def __repr__(self) -> str:
        raise RuntimeError("repr is broken")


class BoolFails:
    def __bool__(self) -> bool:
        raise RuntimeError("bool is broken")


class StrFails(Exception):
    def __str__(self) -> str:
        raise RuntimeError("str is broken")


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"k": value}
    return value


async def test_every_bad_value_is_its_items_error_and_the_run_goes_on(store_url: str) -> None:
    deep = _deep(5000)

    def score(n: int) -> Any:
        bad = {
            1: lambda: doteval.Score("value", np.array([1.0, 2.0]), [mean]),
            2: lambda: doteval.Score("value", None, [mean]),
            3: lambda: doteval.Score("value", "seven", [mean]),
            4: lambda: doteval.Score(["value"], 1.0),  # type: ignore[arg-type]
            5: lambda: doteval.Score("value", BoolFails(), [accuracy]),
            8: lambda: doteval.Score("value", 8.0, [mean], metadata={"deep": deep}),
            9: lambda: (_ for _ in ()).throw(StrFails()),
        }
        if n in bad:
            return bad[n]()
        return doteval.Score("value", float(n), [mean])

    rows: list[Any] = list(range(12))
    rows[6] = ReprFails()  # a row whose repr raises: stored as a placeholder
    rows[7] = {"n": deep}  # a row nested 5,000 deep
    with (
        pytest.warns(doteval.storage.StorageWarning)
        if not store_url.startswith("memory")
        else _nothing()
    ):
        result = await _run(rows, lambda n: score(n if isinstance(n, int) else -1), store_url)
    errors = {record.item_id: record.error for record in result.errors}
    assert sorted(errors) == [1, 2, 3, 4, 5, 9]
    assert all(error is not None for error in errors.values())
    assert "mean cannot take" in errors[2].message  # type: ignore[union-attr]
    assert "mean cannot take" in errors[3].message  # type: ignore[union-attr]
    assert "name must be a non-empty string" in errors[4].message  # type: ignore[union-attr]
    assert "str() raised" in errors[9].message  # type: ignore[union-attr]
    good = [0, 8, 10, 11]  # rows 6 and 7 score -1 (not an int), item 8 keeps its deep metadata
    assert result.counts.total == 12
    expected = (0.0 + 8.0 + 10.0 + 11.0 - 1.0 - 1.0) / (len(good) + 2)
    assert result.summary["value"]["mean"] == pytest.approx(expected)
    assert doteval.load("values", storage=store_url).summary == result.summary
    assert len(list(doteval.load("values", storage=store_url).records)) == 12


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


async def test_a_metric_that_raises_at_the_end_fails_the_run_naming_it(store_url: str) -> None:
    @metric
    def broken(values: list[Any]) -> float:
        raise ZeroDivisionError("no spread")

    with pytest.raises(MetricError, match=r"metric 'broken' of score 'x' raised ZeroDivisionError"):
        await _run(list(range(3)), lambda n: doteval.Score("x", n, [broken]), store_url)
    [info] = doteval.experiments(storage=store_url)[0].evaluations
    assert info.status == FAILED


scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-1000, 1000).map(np.int64),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(np.float32),
    st.booleans().map(np.bool_),
)


@hypothesis.settings(max_examples=25, deadline=None)
@hypothesis.given(values=st.lists(scalars, min_size=1, max_size=30))
def test_stored_and_in_memory_summaries_are_identical(
    values: list[Any], tmp_path_factory: Any
) -> None:
    url = f"sqlite://{tmp_path_factory.mktemp('property') / 'store.db'}"
    metrics = [accuracy, mean, highest]

    @doteval.foreach("n", range(len(values)))
    async def eval_any(n: int) -> doteval.Score:
        await anyio.lowlevel.checkpoint()
        return doteval.Score("x", values[n], metrics)

    result = doteval.run(eval_any, storage=url, experiment="p", progress=False)
    loaded = doteval.load("p", storage=url)
    assert repr(loaded.summary) == repr(result.summary)
    with sqlite3.connect(url.removeprefix("sqlite://")) as connection:
        stored = connection.execute("SELECT summary FROM evaluations").fetchone()[0]
    assert "np." not in stored


async def test_a_resumed_mean_equals_an_uninterrupted_one_to_the_last_digit(store_url: str) -> None:
    values = [0.1 * 3**k % 1.7 + 1e-9 * k for k in range(200)]
    failing = set(range(0, 200, 7))

    def make(fail: set[int]) -> doteval.Evaluation:
        async def eval_mean(n: int) -> doteval.Score:
            await anyio.lowlevel.checkpoint()
            if n in fail:
                raise ConnectionError("later")
            return doteval.Score("v", values[n], [mean])

        return doteval.foreach("n", range(200))(eval_mean)

    whole = await make(set())(storage=store_url, experiment="whole", progress=False)
    await make(failing)(storage=store_url, experiment="parts", progress=False, retries=0)
    resumed = await make(set())(storage=store_url, experiment="parts", progress=False)
    assert resumed.summary["v"]["mean"] == whole.summary["v"]["mean"]
    exact = sum(Fraction(value) for value in values) / 200
    assert whole.summary["v"]["mean"] == float(exact)  # the exact mean, rounded once


def test_an_incremental_metric_of_your_own_keeps_the_same_guarantee() -> None:
    assert mean.incremental
    with pytest.raises(TypeError):
        Metric("bad", lambda: object(), incremental=True)  # type: ignore[arg-type,return-value]
