"""Plain ``def`` evaluations: worker threads under their own limiter, never on the event loop."""

from __future__ import annotations

import threading
import time
import warnings

import anyio
import pytest

from doteval import BlockingEvaluationWarning, Score, foreach


async def test_a_window_of_100_threads_is_not_capped_by_anyios_default_limiter() -> None:
    # anyio's default thread limiter has 40 tokens: with it, 40 threads would wait at
    # the barrier for 60 that never start, and every wait would break.
    assert anyio.to_thread.current_default_thread_limiter().total_tokens < 100
    barrier = threading.Barrier(100, timeout=10)

    @foreach("n", range(100))
    def evaluate(n):
        barrier.wait()
        return Score("met", True)

    result = await evaluate(max_concurrency=100)
    assert result.counts.errors == 0, result.errors[:1]
    assert result.summary == {"met": {"accuracy": 1.0}}


async def test_sync_evaluations_run_outside_the_event_loop_thread() -> None:
    loop_thread = threading.get_ident()
    threads: set[int] = set()

    @foreach("n", range(4))
    def evaluate(n):
        threads.add(threading.get_ident())
        return Score("ok", True)

    await evaluate(max_concurrency=2)
    assert threads
    assert loop_thread not in threads


async def test_a_blocking_sync_evaluation_never_blocks_the_event_loop() -> None:
    worst_lag = 0.0
    done = anyio.Event()

    async def heartbeat() -> None:
        nonlocal worst_lag
        while not done.is_set():
            before = anyio.current_time()
            await anyio.sleep(0.005)
            worst_lag = max(worst_lag, anyio.current_time() - before - 0.005)

    @foreach("n", range(3))
    def evaluate(n):
        time.sleep(0.15)  # blocking, as plain functions may be
        return Score("ok", True)

    with warnings.catch_warnings():
        warnings.simplefilter("error", BlockingEvaluationWarning)
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(heartbeat)
            result = await evaluate()
            done.set()
    assert result.counts.errors == 0
    assert worst_lag < 0.1


async def test_exceptions_from_sync_evaluations_become_error_records() -> None:
    @foreach("n", range(3))
    def evaluate(n):
        if n == 1:
            raise KeyError("missing field")
        return Score("ok", True)

    result = await evaluate()
    (record,) = result.errors
    assert record.item_id == 1
    assert record.error is not None
    assert record.error.type == "KeyError"
    assert "in evaluate" in record.error.traceback


@pytest.mark.parametrize("window", [1, 8])
async def test_sync_runs_respect_the_window(window: int) -> None:
    lock = threading.Lock()
    now = peak = 0

    @foreach("n", range(4 * window))
    def evaluate(n):
        nonlocal now, peak
        with lock:
            now += 1
            peak = max(peak, now)
        time.sleep(0.005)
        with lock:
            now -= 1
        return Score("ok", True)

    await evaluate(max_concurrency=window)
    assert 1 <= peak <= window
