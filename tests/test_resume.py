"""Running an evaluation again in the same experiment resumes it exactly."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

import doteval
from doteval.evaluators import exact_match
from doteval.metrics import accuracy, metric
from doteval.storage import COMPLETED, PARTIAL, DatasetChangedError, open_storage

ROWS = [(f"q{i}", f"a{i}" if i % 3 else "wrong") for i in range(20)]
CLEAN_SUMMARY = {"exact_match": {"accuracy": 13 / 20}}


class Flaky:
    """An evaluation that fails for the ids in ``failing`` and counts its calls."""

    def __init__(self, rows: Any = ROWS, failing: set[int] | None = None) -> None:
        self.failing = set(failing or ())
        self.called: list[int] = []

        async def eval_flaky(question: str, answer: str) -> doteval.Score:
            await anyio.lowlevel.checkpoint()
            number = int(question[1:])
            self.called.append(number)
            if number in self.failing:
                raise ValueError(f"item {number} failed")
            return exact_match(f"a{number}", answer)

        self.evaluation = doteval.foreach("question,answer", rows)(eval_flaky)

    async def __call__(self, **options: Any) -> doteval.EvaluationResult:
        self.called.clear()
        return await self.evaluation(**options)


def stored_ids(url: str, experiment: str, name: str) -> list[int]:
    return [record.item_id for record in open_storage(url).records(experiment, name)]


async def test_resume_skips_successes_and_reruns_errors(store_url: str) -> None:
    flaky = Flaky(failing={2, 7, 11})
    first = await flaky(experiment="e", storage=store_url)
    assert first.counts.errors == 3
    assert first.summary == {"exact_match": {"accuracy": 10 / 20}}  # errors count as wrong

    flaky.failing.clear()
    second = await flaky(experiment="e", storage=store_url)
    assert sorted(flaky.called) == [2, 7, 11]
    assert second.summary == CLEAN_SUMMARY
    assert second.counts.total == 20
    assert second.counts.errors == 0
    assert second.counts.attempts == 3  # this run's: the three it ran again
    assert [record.item_id for record in second.records] == list(range(20))
    assert all(record.error is None for record in second.records)
    assert stored_ids(store_url, "e", flaky.evaluation.name) == list(range(20))

    third = await flaky(experiment="e", storage=store_url)
    assert flaky.called == []
    assert third.summary == CLEAN_SUMMARY
    assert doteval.load("e", storage=store_url).summary == CLEAN_SUMMARY
    assert doteval.load("e", storage=store_url).counts.attempts == 23  # every run's


async def test_samples_means_the_first_n_items_in_total(store_url: str) -> None:
    flaky = Flaky()
    first = await flaky(experiment="s", storage=store_url, samples=6, max_concurrency=1)
    assert flaky.called == list(range(6))
    assert first.counts.total == 6
    [info] = doteval.experiments(storage=store_url)[0].evaluations
    assert info.status == PARTIAL

    second = await flaky(experiment="s", storage=store_url, samples=10, max_concurrency=1)
    assert flaky.called == [6, 7, 8, 9]
    assert second.counts.total == 10
    assert [record.item_id for record in second.records] == list(range(10))

    smaller = await flaky(experiment="s", storage=store_url, samples=4)
    assert flaky.called == []
    assert smaller.counts.total == 4
    assert smaller.summary == {"exact_match": {"accuracy": 2 / 4}}
    assert [record.item_id for record in smaller.records] == [0, 1, 2, 3]

    rest = await flaky(experiment="s", storage=store_url, max_concurrency=1)
    assert flaky.called == list(range(10, 20))
    assert rest.summary == CLEAN_SUMMARY
    [info] = doteval.experiments(storage=store_url)[0].evaluations
    assert info.status == COMPLETED


@pytest.mark.parametrize("samples", [20, 25])
async def test_samples_that_take_every_row_complete_the_evaluation(
    store_url: str, samples: int
) -> None:
    result = await Flaky()(experiment="all", storage=store_url, samples=samples)
    assert result.counts.total == 20
    [info] = doteval.experiments(storage=store_url)[0].evaluations
    assert info.status == COMPLETED


async def test_samples_on_rows_of_unknown_length_mark_the_evaluation_partial(
    store_url: str,
) -> None:
    def rows() -> Iterator[tuple[str, str]]:
        yield from ROWS[:5]
        raise AssertionError("a row past samples= was read")

    flaky = Flaky(rows=rows)
    result = await flaky(experiment="cut", storage=store_url, samples=5)
    assert sorted(flaky.called) == list(range(5))
    assert result.counts.total == 5
    [info] = doteval.experiments(storage=store_url)[0].evaluations
    assert info.status == PARTIAL


async def test_a_changed_row_stops_the_run_naming_the_item(store_url: str) -> None:
    await Flaky(failing={9})(experiment="c", storage=store_url)
    changed = list(ROWS)
    changed[5] = ("q5", "a different answer")
    flaky = Flaky(changed)
    before = stored_ids(store_url, "c", flaky.evaluation.name)
    with pytest.raises(DatasetChangedError, match=r"row 5 .*experiment="):
        await flaky(experiment="c", storage=store_url, max_concurrency=1)
    assert 5 not in flaky.called
    assert all(number < 5 for number in flaky.called)
    assert stored_ids(store_url, "c", flaky.evaluation.name) == before
    [info] = doteval.experiments(storage=store_url)[0].evaluations
    assert info.status == COMPLETED  # left as it was, and free for the next run
    assert (await Flaky()(experiment="c", storage=store_url)).counts.total == 20


async def test_a_shorter_dataset_is_a_changed_dataset(store_url: str) -> None:
    await Flaky()(experiment="short", storage=store_url)
    with pytest.raises(DatasetChangedError, match="now has 15 rows"):
        await Flaky(ROWS[:15])(experiment="short", storage=store_url)


async def test_a_longer_dataset_continues_with_the_new_rows(store_url: str) -> None:
    await Flaky(ROWS[:8])(experiment="grow", storage=store_url)
    flaky = Flaky()
    result = await flaky(experiment="grow", storage=store_url)
    assert sorted(flaky.called) == list(range(8, 20))
    assert result.summary == CLEAN_SUMMARY


async def test_after_an_interruption_the_summary_equals_an_uninterrupted_run(
    store_url: str,
) -> None:
    reference = await Flaky()(experiment="reference", storage=store_url)
    stop_after = 7
    finished = 0

    @doteval.foreach("question,answer", ROWS)
    async def eval_stoppable(question: str, answer: str) -> doteval.Score:
        nonlocal finished
        if finished >= stop_after:
            await anyio.sleep_forever()
        finished += 1
        return exact_match(f"a{question[1:]}", answer)

    with anyio.move_on_after(0.3):
        await eval_stoppable(experiment="resumed", storage=store_url, max_concurrency=3)
    assert finished == stop_after
    stop_after = 100
    result = await eval_stoppable(experiment="resumed", storage=store_url)
    assert finished == 20
    assert result.summary == reference.summary
    assert result.counts.total == 20
    assert stored_ids(store_url, "resumed", eval_stoppable.name) == list(range(20))


@metric
def sum_of_lengths(values: list[Any]) -> int:
    return sum(len(value) for value in values)


async def test_custom_metrics_cover_stored_and_new_items(store_url: str) -> None:
    length = doteval.evaluators.evaluator(metrics=[accuracy, sum_of_lengths], name="length")

    @length
    def measure(text: str) -> str:
        return text

    @doteval.foreach("text", ["a", "bb", "ccc", "dddd"])
    async def eval_lengths(text: str) -> doteval.Score:
        return measure(text)

    first = await eval_lengths(experiment="custom", storage=store_url, samples=2)
    assert first.summary["length"]["sum_of_lengths"] == 3
    second = await eval_lengths(experiment="custom", storage=store_url)
    assert second.summary["length"]["sum_of_lengths"] == 10
    assert doteval.load("custom", storage=store_url).summary["length"]["sum_of_lengths"] == 10


async def test_async_iterable_datasets_resume_too(store_url: str) -> None:
    async def rows() -> AsyncIterator[tuple[str, str]]:
        for row in ROWS:
            await anyio.lowlevel.checkpoint()
            yield row

    flaky = Flaky(rows, failing={3})
    await flaky(experiment="async", storage=store_url)
    flaky.failing.clear()
    result = await flaky(experiment="async", storage=store_url)
    assert flaky.called == [3]
    assert result.summary == CLEAN_SUMMARY


async def test_resume_without_stored_totals_reads_the_records_back(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'x.db'}"
    flaky = Flaky(failing={4})
    await flaky(experiment="reread", storage=url)
    connection = sqlite3.connect(tmp_path / "x.db")
    connection.execute("UPDATE evaluations SET seed = NULL")
    connection.commit()
    connection.close()
    flaky.failing.clear()
    result = await flaky(experiment="reread", storage=url)
    assert flaky.called == [4]
    assert result.summary == CLEAN_SUMMARY
    third = await flaky(experiment="reread", storage=url)  # the totals are stored again
    assert third.summary == CLEAN_SUMMARY


async def test_resume_reads_the_store_in_batches(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from doteval._private.persist import resume

    monkeypatch.setattr(resume, "FETCH_SIZE", 3)
    flaky = Flaky(failing={0, 5, 6, 13, 19})
    await flaky(experiment="batches", storage=store_url)
    flaky.failing.clear()
    result = await flaky(experiment="batches", storage=store_url, max_concurrency=1)
    assert flaky.called == [0, 5, 6, 13, 19]
    assert result.summary == CLEAN_SUMMARY


async def test_sync_evaluations_resume(store_url: str) -> None:
    failing = {1}
    called: list[int] = []

    @doteval.foreach("n", range(5))
    def eval_sync(n: int) -> doteval.Score:
        called.append(n)
        if n in failing:
            raise RuntimeError("boom")
        return exact_match(n, n)

    await eval_sync(experiment="sync", storage=store_url)
    failing.clear()
    called.clear()
    result = await eval_sync(experiment="sync", storage=store_url)
    assert called == [1]
    assert result.summary == {"exact_match": {"accuracy": 1.0}}
