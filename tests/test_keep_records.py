"""``keep_records=False``: the summary and counts are complete, no record stays in memory.

On ``memory://`` the store then keeps the summary, counts, estimates and which items
finished (resuming in the process skips them), not the records.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import doteval
from doteval.evaluators import exact_match
from doteval.metrics import metric
from doteval.storage import StorageError

ROWS = [(i,) for i in range(40)]


@metric
def highest(values: list[Any]) -> Any:
    return max(values)


def counting(fail: set[int], custom: bool = True) -> tuple[doteval.Evaluation, list[int]]:
    calls: list[int] = []

    async def eval_numbers(n: int) -> list[doteval.Score]:
        await anyio.lowlevel.checkpoint()
        calls.append(n)
        if n in fail:
            raise ValueError(f"item {n} fails")
        return [exact_match(n % 4, 0), *([doteval.Score("n", n, [highest])] if custom else [])]

    return doteval.foreach("n", ROWS)(eval_numbers), calls


async def test_the_summary_and_counts_are_complete_on_every_store(store_url: str) -> None:
    evaluation, _ = counting(fail={3})
    result = await evaluation(
        experiment="lean", storage=store_url, keep_records=False, retries=0, progress=False
    )
    assert len(result.records) == 0
    assert (result.counts.total, result.counts.errors) == (40, 1)
    assert result.summary == {"exact_match": {"accuracy": 0.25}, "n": {"highest": 39}}
    assert result.estimates["exact_match"]["accuracy"] is not None
    [experiment] = doteval.experiments(storage=store_url)
    [info] = experiment.evaluations
    assert (info.counts, info.summary) == (result.counts, result.summary)
    loaded = doteval.load("lean", storage=store_url)
    assert loaded.summary == result.summary
    assert (
        loaded.estimates["exact_match"]["accuracy"] == result.estimates["exact_match"]["accuracy"]
    )


async def test_memory_keeps_no_records_and_says_so_when_they_are_read(anyio_backend: str) -> None:
    url = f"memory://keep-records-read-{anyio_backend}"
    evaluation, _ = counting(fail=set())
    await evaluation(experiment="lean", storage=url, keep_records=False, progress=False)
    with pytest.raises(StorageError, match="keep_records=False") as caught:
        list(doteval.load("lean", storage=url).records)
    assert "keep_records=True" in str(caught.value)


async def test_memory_keeps_the_records_by_default(anyio_backend: str) -> None:
    url = f"memory://keep-records-default-{anyio_backend}"
    evaluation, _ = counting(fail=set())
    await evaluation(experiment="full", storage=url, progress=False)
    assert len(doteval.load("full", storage=url).records) == 40


async def test_a_resumed_run_on_memory_skips_what_finished_and_totals_right(
    anyio_backend: str,
) -> None:
    url = f"memory://keep-records-resume-{anyio_backend}"
    first, _ = counting(fail={3, 17, 29}, custom=False)
    options: dict[str, Any] = {"experiment": "again", "storage": url, "progress": False}
    ran = await first(keep_records=False, retries=0, **options)
    assert ran.counts.errors == 3
    second, calls = counting(fail=set(), custom=False)
    resumed = await second(keep_records=False, **options)
    assert sorted(calls) == [3, 17, 29]  # only the failed items ran again
    assert (resumed.counts.total, resumed.counts.errors) == (40, 0)
    assert resumed.summary["exact_match"] == {"accuracy": 0.25}
    whole = await counting(fail=set(), custom=False)[0](
        experiment="fresh", storage=url, progress=False
    )
    assert resumed.summary == whole.summary


async def test_a_run_that_kept_records_can_be_resumed_without_them(anyio_backend: str) -> None:
    url = f"memory://keep-records-switch-{anyio_backend}"
    options: dict[str, Any] = {"experiment": "switch", "storage": url, "progress": False}
    await counting(fail={5}, custom=False)[0](retries=0, **options)
    second, calls = counting(fail=set(), custom=False)
    resumed = await second(keep_records=False, **options)
    assert calls == [5]
    assert resumed.summary["exact_match"] == {"accuracy": 0.25}
    with pytest.raises(StorageError, match="not kept"):
        list(doteval.load("switch", storage=url).records)


async def test_a_resumed_run_cannot_settle_a_metric_that_needs_records_not_kept(
    anyio_backend: str,
) -> None:
    url = f"memory://keep-records-custom-{anyio_backend}"
    options: dict[str, Any] = {"experiment": "custom", "storage": url, "progress": False}
    await counting(fail={5})[0](keep_records=False, retries=0, **options)
    with pytest.raises(StorageError, match="keep_records=True"):
        await counting(fail=set())[0](keep_records=False, **options)
