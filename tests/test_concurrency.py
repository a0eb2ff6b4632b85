"""Concurrency strategies: the window, sequential runs, pacing, resizing, user strategies."""

from __future__ import annotations

import itertools
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream

from doteval import ForEach, Record, Score, foreach
from doteval._private.concurrency.pool import WorkerPool
from doteval.concurrency import (
    AsyncConcurrencyStrategy,
    RateLimitedStrategy,
    SequentialStrategy,
    SlidingWindowStrategy,
)
from in_flight import InFlight


async def _until(condition: Callable[[], bool]) -> None:
    with anyio.fail_after(5):
        while not condition():
            await anyio.sleep(0.001)


def _queued_jobs(count: int) -> MemoryObjectReceiveStream[tuple[int, Any]]:
    """A worker pool's jobs: items ``0..count-1`` (each its own row), then the end."""
    jobs_in, jobs_out = anyio.create_memory_object_stream[tuple[int, Any]](count)
    for item_id in range(count):
        jobs_in.send_nowait((item_id, item_id))
    jobs_in.close()
    return jobs_out


# --- the window ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decorator", "call_options", "window"),
    [
        (foreach, {}, 10),
        (foreach, {"max_concurrency": 7}, 7),
        (ForEach(concurrency=SlidingWindowStrategy(max_concurrency=3)), {}, 3),
        (ForEach(concurrency=SlidingWindowStrategy(max_concurrency=64)), {}, 64),
        # Wider than any buffer's floor. One pass of trio's scheduler over 5,000 tasks can
        # take longer than the blocking warning's threshold on a loaded machine.
        (foreach, {"max_concurrency": 5000, "blocking_threshold": 30}, 5000),
    ],
    ids=["default-10", "max_concurrency-7", "sliding-3", "sliding-64", "wide-5000"],
)
async def test_the_window_is_reached_and_never_exceeded(
    decorator: ForEach, call_options: dict[str, Any], window: int
) -> None:
    in_flight = InFlight(target=window)

    @decorator("n", range(5 * window))
    async def evaluate(n):
        await in_flight.visit()
        await anyio.lowlevel.checkpoint()
        return Score("ok", True)

    with anyio.fail_after(60):  # against a hang only: a loaded machine is slow
        result = await evaluate(**call_options)
    assert in_flight.peak == window
    assert result.counts.total == 5 * window


async def test_sequential_strategy_runs_one_at_a_time() -> None:
    now = peak = 0

    @ForEach(concurrency=SequentialStrategy())("n", range(20))
    async def evaluate(n):
        nonlocal now, peak
        now += 1
        peak = max(peak, now)
        await anyio.sleep(0.001)
        now -= 1
        return Score("ok", True)

    result = await evaluate()
    assert peak == 1
    assert result.counts.total == 20


async def test_sync_evaluations_default_to_one_at_a_time() -> None:
    lock = threading.Lock()
    now = peak = 0

    @foreach("n", range(10))
    def evaluate(n):
        nonlocal now, peak
        with lock:
            now += 1
            peak = max(peak, now)
        threading.Event().wait(0.002)
        with lock:
            now -= 1
        return Score("ok", True)

    await evaluate()
    assert peak == 1


# --- pacing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "strategy",
    [
        RateLimitedStrategy(max_concurrency=10, requests_per_second=20),
        RateLimitedStrategy(max_concurrency=10, requests_per_minute=1200),
    ],
    ids=["per-second", "per-minute"],
)
async def test_rate_limited_strategy_paces_starts(strategy: RateLimitedStrategy) -> None:
    starts: list[float] = []

    @ForEach(concurrency=strategy)("n", range(8))
    async def evaluate(n):
        starts.append(anyio.current_time())
        return Score("ok", True)

    await evaluate()
    starts.sort()
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert min(gaps) >= 0.04  # one start every 0.05 s
    assert 7 * 0.04 <= starts[-1] - starts[0] < 2


async def test_rate_limited_burst_starts_together_then_paces() -> None:
    starts: list[float] = []
    strategy = RateLimitedStrategy(max_concurrency=10, requests_per_second=20, burst=4)

    @ForEach(concurrency=strategy)("n", range(8))
    async def evaluate(n):
        starts.append(anyio.current_time())
        return Score("ok", True)

    await evaluate()
    starts.sort()
    assert starts[3] - starts[0] < 0.04
    assert starts[-1] - starts[0] >= 4 * 0.04


async def test_rate_limited_strategy_also_caps_concurrency() -> None:
    in_flight = InFlight(target=3)
    strategy = RateLimitedStrategy(3, requests_per_second=10_000, burst=100)

    @ForEach(concurrency=strategy)("n", range(12))
    async def evaluate(n):
        await in_flight.visit()
        return Score("ok", True)

    with anyio.fail_after(5):
        await evaluate()
    assert in_flight.peak == 3


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"max_concurrency": 2}, "needs requests_per_second or requests_per_minute"),
        ({"max_concurrency": 2, "requests_per_second": 0}, "requests_per_second must be above 0"),
        (
            {"max_concurrency": 0, "requests_per_second": 1},
            "max_concurrency must be a whole number of at least 1",
        ),
        (
            {"max_concurrency": 2, "requests_per_second": 1, "burst": 0},
            "burst must be a whole number of at least 1",
        ),
    ],
)
def test_bad_rate_limits_fail_clearly(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RateLimitedStrategy(**arguments)


def test_bad_window_fails_clearly() -> None:
    with pytest.raises(ValueError, match="max_concurrency must be a whole number of at least 1"):
        SlidingWindowStrategy(max_concurrency=0)


async def test_slow_items_start_one_per_scheduler_pass_quick_ones_in_bulk() -> None:
    """A window of slow requests started in one pass would go out and come back as one
    wave; quick items would lose half their throughput to a checkpoint each."""
    passes = 0
    started_in_pass: dict[int, int] = {}

    async def count_passes() -> None:
        nonlocal passes
        while True:
            await anyio.lowlevel.checkpoint()
            passes += 1

    @foreach("n", range(120))
    async def evaluate(n):
        started_in_pass[n] = passes
        if n < 20:
            await anyio.sleep(0.002)  # slow: the next jobs are paced
        return Score("ok", True)

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(count_passes)
        result = await evaluate(max_concurrency=20)
        task_group.cancel_scope.cancel()
    assert result.counts.total == 120
    # A pass count is only good to one pass: trio runs the tasks of a pass in random order.
    first_wave = {started_in_pass[n] for n in range(20)}
    last_quick = {started_in_pass[n] for n in range(80, 120)}
    assert len(first_wave) >= 10, f"the first wave started in passes {sorted(first_wave)}"
    assert len(last_quick) <= 12, f"quick items started in passes {sorted(last_quick)}"


async def test_quick_items_at_a_wide_window_are_run_by_the_first_hundred_workers() -> None:
    """Workers beyond the first hundred start as items need them: items that never wait
    keep the first hundred busy, instead of each job going to one of thousands of
    waiting workers (one scheduler trip an item, half the throughput at window 5,000).
    Items that wait still fill the window (``test_the_window_is_reached_and_never_exceeded``)."""
    workers: set[int] = set()

    @foreach("n", range(20_000))
    async def evaluate(n):
        workers.add(anyio.get_current_task().id)
        return Score("ok", True)

    # The blocking warning is not under test: a loaded machine can stall 20,000 quick
    # items past its threshold (0.54 s once under the parallel suite).
    result = await evaluate(
        max_concurrency=5000, storage="memory://", progress=False, blocking_threshold=30
    )
    assert result.counts.total == 20_000
    assert len(workers) <= 110, f"{len(workers)} workers ran the items"


async def test_results_that_back_up_start_no_more_workers() -> None:
    """A worker waiting to hand its result on is free for the pool's count: when the run
    takes results slower than quick items finish (a loaded machine, a busy store), more
    workers would only hold more items in flight, so none start past the first hundred."""
    workers: set[int] = set()

    async def handle(item_id: int, row: Any) -> Record:
        workers.add(anyio.get_current_task().id)
        return Record(item_id, row)

    jobs_out = _queued_jobs(2_000)
    results_in, results_out = anyio.create_memory_object_stream[Record](1)
    pool = WorkerPool(handle, window=5_000, on_demand=True)

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(pool.run, jobs_out, results_in)
        await anyio.wait_all_tasks_blocked()  # every worker waits to hand a result on
        assert len(workers) <= 100, f"{len(workers)} workers started for a full results buffer"
        async with results_out:
            records = [record async for record in results_out]
    assert sorted(record.item_id for record in records) == list(range(2_000))


async def test_a_wide_window_fills_up_from_a_hundred_workers_when_items_wait() -> None:
    in_flight = InFlight(target=300)

    @foreach("n", range(300))
    async def evaluate(n):
        await in_flight.visit()  # every item waits until 300 are in flight
        return Score("ok", True)

    with anyio.fail_after(60):  # against a hang only
        result = await evaluate(max_concurrency=300, storage="memory://", progress=False)
    assert in_flight.peak == 300
    assert result.counts.total == 300


# --- resizing while running ----------------------------------------------------------


async def test_worker_pool_grows_and_shrinks_while_running() -> None:
    now = peak = 0
    tickets_in, tickets_out = anyio.create_memory_object_stream[None](100)

    async def handle(item_id: int, row: Any) -> Record:
        nonlocal now, peak
        now += 1
        peak = max(peak, now)
        try:
            await tickets_out.receive()  # finishes when the test hands it a ticket
        finally:
            now -= 1
        return Record(item_id, row)

    jobs_out = _queued_jobs(30)
    results_in, results_out = anyio.create_memory_object_stream[Record](30)
    pool = WorkerPool(handle, window=2)

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(pool.run, jobs_out, results_in)
        await _until(lambda: now == 2)
        await anyio.sleep(0.01)
        assert peak == 2

        pool.resize(5)
        await _until(lambda: now == 5)
        assert peak == 5

        pool.resize(1)
        for _ in range(5):
            tickets_in.send_nowait(None)
        await _until(lambda: now == 1)
        peak = 1
        for _ in range(5):
            tickets_in.send_nowait(None)
            await anyio.sleep(0.002)
        assert peak == 1

        pool.resize(3)
        await _until(lambda: now == 3)
        for _ in range(30):
            tickets_in.send_nowait(None)

    async with results_out:
        records = [record async for record in results_out]
    assert sorted(record.item_id for record in records) == list(range(30))
    assert peak == 3


# --- user-written strategies ------------------------------------------------------


class ClosingIterator:
    """Wraps an async generator and records whether doteval closed it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.closed = False

    def __aiter__(self) -> ClosingIterator:
        return self

    async def __anext__(self) -> Any:
        return await self.inner.__anext__()

    async def aclose(self) -> None:
        self.closed = True
        await self.inner.aclose()


class BatchStrategy:
    """Runs tasks in batches of ``size`` in a task group, yielding once each batch is done.

    Results are yielded outside the task group: an async generator must never
    yield from inside a task group or cancel scope.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.iterators: list[ClosingIterator] = []
        self.in_flight = 0
        self.peak = 0

    def execute(
        self,
        tasks: AsyncIterator[Callable[[], Awaitable[Any]]],
        progress_callback: Callable[[Any], None] | None = None,
    ) -> ClosingIterator:
        iterator = ClosingIterator(self._batches(tasks, progress_callback))
        self.iterators.append(iterator)
        return iterator

    async def _batches(self, tasks, progress_callback):
        batch: list[Callable[[], Awaitable[Any]]] = []
        async for task in tasks:
            batch.append(task)
            if len(batch) == self.size:
                for result in await self._run(batch):
                    yield result
                batch = []
        for result in await self._run(batch):
            yield result

    async def _run(self, batch: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
        results: list[Any] = []

        async def one(task: Callable[[], Awaitable[Any]]) -> None:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                results.append(await task())
            finally:
                self.in_flight -= 1

        async with anyio.create_task_group() as task_group:
            for task in batch:
                task_group.start_soon(one, task)
        return results


async def test_a_user_written_strategy_is_accepted_and_closed() -> None:
    strategy = BatchStrategy(size=4)
    assert isinstance(strategy, AsyncConcurrencyStrategy)

    @ForEach(concurrency=strategy)("n", range(10))
    async def evaluate(n):
        await anyio.sleep(0.001)
        return Score("even", n % 2 == 0)

    result = await evaluate()
    assert result.summary == {"even": {"accuracy": 0.5}}
    assert [record.item_id for record in result.records] == list(range(10))
    assert strategy.peak == 4
    (iterator,) = strategy.iterators
    assert iterator.closed


async def test_a_user_written_strategy_is_closed_on_cancellation() -> None:
    strategy = BatchStrategy(size=4)

    @ForEach(concurrency=strategy)("n", range(10))
    async def evaluate(n):
        await anyio.sleep_forever()

    with anyio.move_on_after(5) as scope:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(evaluate)
            await _until(lambda: strategy.in_flight == 4)
            task_group.cancel_scope.cancel()
    assert not scope.cancelled_caught
    assert strategy.in_flight == 0
    (iterator,) = strategy.iterators
    assert iterator.closed


async def test_a_user_strategy_yielding_something_else_fails_clearly() -> None:
    class Broken:
        async def execute(self, tasks, progress_callback=None):
            async for task in tasks:
                await task()
                yield "done"

    @ForEach(concurrency=Broken())("n", range(3))
    async def evaluate(n):
        return Score("ok", True)

    with pytest.raises(TypeError, match=r"Broken\.execute yielded str"):
        await evaluate()


class StopsEarly:
    """A buggy strategy that stops after two tasks."""

    async def execute(self, tasks, progress_callback=None):
        count = 0
        async for task in tasks:
            yield await task()
            count += 1
            if count == 2:
                return


class DropsResults:
    """A buggy strategy that runs every task but yields only the first result."""

    async def execute(self, tasks, progress_callback=None):
        results = [await task() async for task in tasks]
        yield results[0]


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        (StopsEarly(), r"StopsEarly\.execute stopped after yielding 2 results for 2 tasks with"),
        (DropsResults(), r"DropsResults\.execute stopped after yielding 1 results for 50 tasks;"),
    ],
    ids=["stops-early", "drops-results"],
)
async def test_a_user_strategy_that_loses_items_fails_loudly(strategy: Any, message: str) -> None:
    @ForEach(concurrency=strategy)("n", range(50))
    async def evaluate(n):
        return Score("ok", True)

    with anyio.fail_after(5), pytest.raises(RuntimeError, match=message):
        await evaluate()
