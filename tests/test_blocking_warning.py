"""``BlockingEvaluationWarning`` blames what blocked the event loop: the evaluation, the
dataset, or nothing at all when the loop was merely busy or the process was stopped.
(A blocking async evaluation is warned about: tests/test_pitfalls.py.)"""

from __future__ import annotations

import gc
import selectors
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from child_process import child
from doteval import BlockingEvaluationWarning, Score, foreach
from doteval._private.run.watchdog import BlockingWatchdog, _Sampler
from doteval.evaluators import exact_match


def blocking_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, BlockingEvaluationWarning)]


async def test_a_blocking_sync_generator_dataset_is_named_in_the_warning() -> None:
    def slow_rows():
        for n in range(3):
            time.sleep(0.4)  # a blocking read of each row
            yield n

    @foreach("n", slow_rows)
    async def eval_quick(n):
        return Score("ok", True)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = await eval_quick(blocking_threshold=0.1)
    assert result.counts.errors == 0
    (message,) = blocking_warnings(caught)
    assert "the dataset of" in message
    assert "slow_rows in " in message  # where it blocked
    assert "the evaluation held it" not in message  # the evaluation is not blamed


async def test_a_blocking_evaluation_is_named_with_the_line_that_blocked() -> None:
    @foreach("n", range(2))
    async def eval_sleepy(n):
        time.sleep(0.4)  # Blocks!
        return Score("ok", True)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await eval_sleepy(blocking_threshold=0.1)
    (message,) = blocking_warnings(caught)
    assert "eval_sleepy" in message
    assert f"eval_sleepy in {__file__}:" in message


async def test_a_window_of_10000_quick_items_is_busy_not_blocked() -> None:
    @foreach("n", range(20_000))
    async def evaluate(n):
        return exact_match(n, n)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # One scheduler pass over 10,000 tasks takes longer than this (0.34 s in CI).
        result = await evaluate(max_concurrency=10_000, blocking_threshold=0.2)
    assert result.counts.total == 20_000
    assert blocking_warnings(caught) == []


async def test_a_blocking_call_outside_the_evaluation_is_named_as_stuck() -> None:
    first_item, unblocked = anyio.Event(), anyio.Event()

    @foreach("n", range(20))
    async def eval_waiting(n):
        first_item.set()
        await unblocked.wait()
        return Score("ok", True)

    async def block_the_loop() -> None:
        await first_item.wait()
        time.sleep(0.6)  # Blocks every task, outside any evaluation
        unblocked.set()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with anyio.create_task_group() as tg:
            tg.start_soon(block_the_loop)
            result = await eval_waiting(blocking_threshold=0.1)
    assert result.counts.total == 20
    (message,) = blocking_warnings(caught)
    assert "stuck in one call (block_the_loop in " in message
    assert "the evaluation held it" not in message


async def test_a_long_garbage_collection_is_not_blamed_on_the_evaluation() -> None:
    heap = [[n] for n in range(1_000_000)]  # a big heap makes a full collection slow
    took: list[float] = []

    @foreach("n", range(2))
    async def eval_collecting(n):
        started = time.perf_counter()
        gc.collect()  # every thread stops for it: no rewrite of the evaluation helps
        took.append(time.perf_counter() - started)
        return Score("ok", True)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await eval_collecting(blocking_threshold=0.02)
    assert len(heap) == 1_000_000
    assert max(took) > 0.04  # the loop stopped for twice the threshold
    assert blocking_warnings(caught) == []


STOPPED = """
import sys, time, warnings
import anyio
import doteval
from doteval import Score

backend, how = sys.argv[1], sys.argv[2]
warnings.simplefilter("always")

@doteval.foreach("n", range(1))
async def eval_waiting(n):
    print("waiting", flush=True)
    if how == "blocking":
        time.sleep(1.5)  # Blocks!
    else:
        await anyio.sleep(3)  # stopped from outside meanwhile
    return Score("ok", True)

doteval.run(eval_waiting, backend=backend, blocking_threshold=0.2, progress=False,
            storage="memory://stopped")
print("done", flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("how", ["stopped", "blocking"])
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_process_stopped_and_continued_is_not_warned_about(
    tmp_path: Path, backend: str, how: str
) -> None:
    with child(tmp_path, STOPPED, backend, how) as process:
        process.line("waiting")
        if how == "stopped":
            process.signal(signal.SIGSTOP)
            time.sleep(1.5)  # stopped for 7 times the threshold
            process.signal(signal.SIGCONT)
        process.line("done")
        assert process.wait(timeout=20) == 0
        warned = "BlockingEvaluationWarning" in process.stderr()
    assert warned == (how == "blocking")


async def test_the_watchdogs_thread_ends_with_the_run() -> None:
    before = set(threading.enumerate())

    @foreach("n", range(20))
    async def evaluate(n):
        return Score("ok", True)

    await evaluate(blocking_threshold=0.05)
    left = set(threading.enumerate()) - before
    # Not the daemon threads of anyio's trio test runner (it runs trio as a guest).
    assert [t for t in left if not t.daemon or t.name.startswith("doteval")] == []


async def judged(park: Callable[[threading.Event], None]) -> str | None:
    """What the watchdog says of a lag while a thread stood where ``park`` keeps it."""
    parked, done = threading.Event(), threading.Event()

    def loop_thread() -> None:
        parked.set()
        park(done)

    thread = threading.Thread(target=loop_thread)
    thread.start()
    parked.wait()
    sampler = _Sampler(thread.ident or 0, 0.01)
    started = time.monotonic()
    sampler.start()
    await anyio.sleep(0.3)
    sampler.stop()
    done.set()
    thread.join()
    samples = sampler.between(started, time.monotonic())
    assert len(samples) >= 10
    return BlockingWatchdog("eval_x", 0.1).explain(0.3, samples)


async def test_a_loop_late_while_waiting_in_its_selector_is_not_blamed_on_code() -> None:
    def wait_in_selector(done: threading.Event) -> None:
        wake, woken = socket.socketpair()
        with selectors.DefaultSelector() as selector, wake, woken:
            selector.register(woken, selectors.EVENT_READ)
            waker = threading.Thread(target=lambda: (done.wait(), wake.send(b"x")))
            waker.start()
            selector.select(timeout=30)  # one long wait, as a loop with no timer due
            waker.join()

    def stuck_in_a_call(done: threading.Event) -> None:
        done.wait()

    assert await judged(wait_in_selector) is None
    message = await judged(stuck_in_a_call)  # the control: the same judge, another place
    assert message is not None
    assert "stuck in one call (wait in " in message
