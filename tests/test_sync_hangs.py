"""Plain ``def`` evaluations never hang a run or the process: ``timeout=`` stops waiting
for a stuck call, Ctrl-C and cancellation return at once, and a ``KeyboardInterrupt`` or
``sys.exit()`` raised by an item ends the process."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

import anyio
import pytest

from child_process import child
from doteval import RetryPolicy, Score, foreach
from doteval.storage import INTERRUPTED, open_storage

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

NO_WAIT = RetryPolicy(attempts=2, wait_initial=0, wait_max=0, wait_jitter=0)

STUCK_ITEMS = """
import asyncio, sys, threading, time
import anyio
import doteval
from doteval import Score

backend, how, where, kind = sys.argv[1:5]
never = threading.Event()

def body(n):
    if n == 2:
        time.sleep(0.2)  # the other items of the window are stuck by now
        print("raising", time.monotonic(), flush=True)
        if how == "interrupt":
            raise KeyboardInterrupt
        sys.exit(7)
    never.wait(60)  # stuck: the run must not wait for it
    return Score("ok", True)

if kind == "sync":
    @doteval.foreach("n", range(20))
    def evaluate(n):
        return body(n)
else:
    @doteval.foreach("n", range(20))
    async def evaluate(n):
        if n != 2:
            await anyio.sleep(60)  # stuck, without blocking the event loop
        return body(n)

def run():
    try:
        doteval.run(evaluate, backend=backend, max_concurrency=4, progress=False,
                    storage="sqlite://store.db", experiment="stuck")
    except KeyboardInterrupt:
        print("interrupted", time.monotonic(), flush=True)
        raise

async def notebook_cell():  # doteval.run inside a running event loop, as in Jupyter
    run()

if where == "script":
    run()
else:  # not asyncio.run(), whose Ctrl-C handler only cancels the blocked cell
    asyncio.new_event_loop().run_until_complete(notebook_cell())
"""


@pytest.mark.parametrize("where", ["script", "notebook"])
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_keyboard_interrupt_from_a_sync_item_ends_the_run_and_the_process(
    tmp_path: Path, backend: str, where: str
) -> None:
    with child(tmp_path, STUCK_ITEMS, backend, "interrupt", where, "sync") as process:
        raised = float(process.line("raising").split()[1])
        interrupted = float(process.line("interrupted").split()[1])
        status = process.wait(timeout=10)
        stderr = process.stderr()
    assert status == -signal.SIGINT, stderr
    assert "KeyboardInterrupt" in stderr
    assert "unhandled exception" not in stderr  # the event loop ended cleanly
    assert interrupted - raised < 5  # not the 60 s the stuck items would take
    (info,) = open_storage(f"sqlite://{tmp_path / 'store.db'}").experiment("stuck").evaluations
    assert info.status == INTERRUPTED


@pytest.mark.parametrize("where", ["script", "notebook"])
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sys_exit_in_a_sync_item_exits_the_process_with_its_status(
    tmp_path: Path, backend: str, where: str
) -> None:
    with child(tmp_path, STUCK_ITEMS, backend, "exit", where, "sync") as process:
        process.line("raising")
        assert process.wait(timeout=10) == 7, process.stderr()


@pytest.mark.parametrize("how", ["interrupt", "exit"])
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_an_async_items_keyboard_interrupt_or_exit_ends_the_process_cleanly_in_a_notebook(
    tmp_path: Path, backend: str, how: str
) -> None:
    with child(tmp_path, STUCK_ITEMS, backend, how, "notebook", "async") as process:
        process.line("raising")
        status = process.wait(timeout=10)
        stderr = process.stderr()
    assert status == (-signal.SIGINT if how == "interrupt" else 7), stderr
    assert "unhandled exception" not in stderr


STUCK_CALL = """
import asyncio, signal, sys, threading, time
import doteval
from doteval import Score

backend, timeout, where, to = sys.argv[1:5]

@doteval.foreach("n", range(5))
def evaluate(n):
    print("started", flush=True)
    if to == "thread" and n == 0:  # Linux may deliver a Ctrl-C to any of the threads
        time.sleep(0.5)  # the event loop is idle by then, its next timer far off
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
    time.sleep(60)
    return Score("ok", True)

def run():
    doteval.run(evaluate, backend=backend, max_concurrency=2, progress=False,
                storage="memory://stuck", timeout=None if timeout == "none" else float(timeout))

async def notebook_cell():  # doteval.run inside a running event loop, as in Jupyter
    run()

if where == "script":
    run()
else:  # not asyncio.run(), whose Ctrl-C handler only cancels the blocked cell
    asyncio.new_event_loop().run_until_complete(notebook_cell())
"""


@pytest.mark.parametrize("to", ["process", "thread"])
@pytest.mark.parametrize("where", ["script", "notebook"])
@pytest.mark.parametrize("timeout", ["none", "30"])
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_ctrl_c_stops_a_script_whose_sync_item_is_stuck(
    tmp_path: Path, backend: str, timeout: str, where: str, to: str
) -> None:
    with child(tmp_path, STUCK_CALL, backend, timeout, where, to) as process:
        process.line("started")
        if to == "process":
            process.signal(signal.SIGINT)
        interrupted = time.monotonic()
        status = process.wait(timeout=10)
        assert time.monotonic() - interrupted < 5  # not the 60 s the stuck call takes
        assert status == -signal.SIGINT, process.stderr()
        assert "KeyboardInterrupt" in process.stderr()


LOST_INTERRUPT = """
import signal, sys, weakref
import anyio
import doteval
from doteval import Score

class Box:
    pass

@doteval.foreach("n", range(3))
async def evaluate(n):
    if n == 0:  # Ctrl-C comes while the garbage collector runs a weakref callback
        box = Box()
        kept = weakref.ref(box, lambda _: signal.raise_signal(signal.SIGINT))
        del box
    print("started", flush=True)
    await anyio.sleep(60)
    return Score("ok", True)

doteval.run(evaluate, backend=sys.argv[1], progress=False, storage="memory://lost")
"""


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_ctrl_c_that_python_could_not_raise_still_stops_the_run(
    tmp_path: Path, backend: str
) -> None:
    with child(tmp_path, LOST_INTERRUPT, backend) as process:
        process.line("started")
        status = process.wait(timeout=10)
        assert status == -signal.SIGINT, process.stderr()
        assert "KeyboardInterrupt" in process.stderr()


async def test_a_stuck_sync_attempt_times_out_and_is_retried() -> None:
    release = threading.Event()
    calls = 0

    @foreach("n", range(1))
    def evaluate(n):
        nonlocal calls
        calls += 1
        release.wait(20)
        return Score("ok", True)

    begin = time.monotonic()
    try:
        result = await evaluate(timeout=0.3, retries=NO_WAIT)
    finally:
        release.set()
    assert time.monotonic() - begin < 5  # two attempts of 0.3 s, not two of 20 s
    (record,) = result.errors
    assert record.error is not None
    assert record.error.type == "doteval.ItemTimeoutError"
    assert "timed out after 0.3 s" in record.error.message
    assert (record.attempts, calls) == (2, 2)


async def test_a_timed_sync_call_that_returns_in_time_is_recorded() -> None:
    @foreach("n", range(20))
    def evaluate(n):
        time.sleep(0.01 if n % 2 else 0)
        return Score("ok", n)

    result = await evaluate(timeout=10, max_concurrency=4)
    assert result.counts.errors == 0
    assert sorted(record.scores[0].value for record in result.records) == list(range(20))


async def test_cancelling_a_sync_run_does_not_wait_for_its_running_calls() -> None:
    """A thread cannot be interrupted: the run stops waiting for the calls in flight,
    which run on in their threads until they return."""
    started = threading.Semaphore(0)
    release = threading.Event()
    finished: list[int] = []

    @foreach("n", range(50))
    def evaluate(n):
        started.release()
        release.wait(20)
        finished.append(n)
        return Score("ok", True)

    before = set(threading.enumerate())

    async def cancel_once_four_run(scope: anyio.CancelScope) -> None:
        for _ in range(4):
            assert await anyio.to_thread.run_sync(started.acquire, True, 10)
        scope.cancel()

    try:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(cancel_once_four_run, scope)
                await evaluate(max_concurrency=4)
        assert scope.cancelled_caught
        assert finished == []  # returned while all four calls were still blocked
    finally:
        release.set()

    def ours() -> list[threading.Thread]:
        return [t for t in set(threading.enumerate()) - before if t.name.startswith("doteval")]

    deadline = time.monotonic() + 10
    while (len(finished) < 4 or ours()) and time.monotonic() < deadline:
        await anyio.sleep(0.01)
    assert len(finished) == 4  # the abandoned calls ran on to their end
    assert ours() == []  # and then their threads ended


async def test_a_sync_run_leaves_no_thread_behind() -> None:
    before = set(threading.enumerate())

    @foreach("n", range(40))
    def evaluate(n):
        time.sleep(0.001)
        return Score("ok", True)

    result = await evaluate(max_concurrency=8)
    assert result.counts.errors == 0
    left = set(threading.enumerate()) - before
    # Not the daemon threads of anyio's trio test runner (it runs trio as a guest).
    assert [t for t in left if not t.daemon or t.name.startswith("doteval")] == []
