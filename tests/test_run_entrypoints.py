"""``doteval.run``: from plain scripts, and from inside a running event loop (Jupyter)."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Callable

import anyio
import pytest
import trio

import doteval
from doteval import Score
from doteval._private.api.options import RunOptions, session_options
from doteval.evaluators import exact_match

BACKENDS = ["asyncio", "trio"]
DATASET = [("What is 2+2?", "4"), ("What is 3+3?", "6")]


class Model:
    def __init__(self) -> None:
        self.calls = 0

    async def generate(self, question: str) -> str:
        self.calls += 1
        await anyio.sleep(0)
        return "4"


@doteval.foreach("question,answer", DATASET)
async def eval_math(question, answer, model):
    return exact_match(await model.generate(question), answer)


@doteval.foreach("question,answer", DATASET)
def eval_sync(question, answer):
    return exact_match(answer, "6")


def _new_threads(before: set[threading.Thread]) -> set[str]:
    """Threads started since ``before`` that are still alive once the run is over.

    Not counted: trio's process-wide idle thread cache ("Trio thread N"), kept for any
    later trio run and retired after 10 s idle. anyio's asyncio worker threads are told
    to stop when their event loop's main task ends and exit a moment later, so they
    get a short grace period, after which they count too.
    """
    deadline = time.monotonic() + 2
    while True:
        alive = {
            thread.name
            for thread in set(threading.enumerate()) - before
            if not thread.name.startswith("Trio thread ")
        }
        if alive != {"AnyIO worker thread"} or time.monotonic() > deadline:
            return alive
        time.sleep(0.01)


def _portal_threads() -> list[str]:
    """Threads ``doteval.run`` starts inside a loop: its helper and anyio's portal thread."""
    return [
        thread.name
        for thread in threading.enumerate()
        if "-portal-" in thread.name or "doteval" in thread.name
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_from_sync_code(backend: str) -> None:
    model = Model()
    before = set(threading.enumerate())
    result = doteval.run(eval_math, backend=backend, model=model, max_concurrency=1)
    assert result.summary == {"exact_match": {"accuracy": 0.5}}
    assert model.calls == 2
    assert _new_threads(before) == set()


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_a_sync_evaluation(backend: str) -> None:
    result = doteval.run(eval_sync, backend=backend)
    assert result.summary == {"exact_match": {"accuracy": 0.5}}


@pytest.mark.parametrize("inner", BACKENDS)
def test_run_inside_a_running_asyncio_loop(inner: str) -> None:
    """What a Jupyter cell does: a blocking call while the notebook's loop is running."""

    async def cell() -> tuple[doteval.EvaluationResult, set[str]]:
        before = set(threading.enumerate())
        result = doteval.run(eval_math, backend=inner, model=Model())
        return result, _new_threads(before)

    result, new_threads = asyncio.run(cell())
    assert result.counts.total == 2
    assert result.summary == {"exact_match": {"accuracy": 0.5}}
    assert new_threads == set()
    assert _portal_threads() == []


@pytest.mark.parametrize("inner", BACKENDS)
def test_run_inside_a_running_trio_loop(inner: str) -> None:
    async def main() -> tuple[doteval.EvaluationResult, set[str]]:
        before = set(threading.enumerate())
        result = doteval.run(eval_math, backend=inner, model=Model())
        return result, _new_threads(before)

    result, new_threads = trio.run(main)
    assert result.summary == {"exact_match": {"accuracy": 0.5}}
    assert new_threads == set()
    assert _portal_threads() == []


def test_run_from_a_loop_callback_outside_any_task() -> None:
    """Jupyter may run code in the loop's thread outside any asyncio task."""
    outcome: list[doteval.EvaluationResult] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        def callback() -> None:
            outcome.append(doteval.run(eval_math, model=Model()))
            done.set()

        loop.call_soon(callback)
        await done.wait()

    asyncio.run(main())
    assert outcome[0].counts.total == 2
    assert _portal_threads() == []


@pytest.mark.parametrize("inner", BACKENDS)
def test_sync_evaluation_inside_a_loop_leaves_no_doteval_thread(inner: str) -> None:
    async def cell() -> doteval.EvaluationResult:
        return doteval.run(eval_sync, backend=inner, max_concurrency=2)

    result = asyncio.run(cell())
    assert result.counts.total == 2
    # Worker threads of the inner run belong to its (now closed) event loop; only the
    # backends' own idle thread caches may remain, never the portal that ran the loop.
    assert _portal_threads() == []


async def test_run_inside_an_anyio_test_loop() -> None:
    result = doteval.run(eval_math, model=Model())
    assert result.counts.total == 2
    assert _portal_threads() == []


def test_run_inside_a_loop_sees_session_options() -> None:
    @doteval.foreach("n", range(10))
    def count(n):
        return Score("n", True)

    async def cell() -> int:
        token = session_options.set(RunOptions(samples=3))
        try:
            return doteval.run(count).counts.total
        finally:
            session_options.reset(token)

    assert asyncio.run(cell()) == 3


def test_errors_inside_a_loop_propagate_to_the_caller() -> None:
    async def cell() -> None:
        doteval.run(eval_math, modle=Model())

    with pytest.raises(TypeError, match="modle"):
        asyncio.run(cell())
    assert _portal_threads() == []


def test_run_rejects_a_plain_function() -> None:
    async def evaluate(question, answer):
        return exact_match(question, answer)

    with pytest.raises(TypeError, match=r"decorated with @doteval\.foreach"):
        doteval.run(evaluate)  # type: ignore[arg-type]


def _interrupted_inside_a_loop(interrupt: Callable[[], object]) -> None:
    """A run inside a loop without asyncio.run's SIGINT handler, like a notebook kernel's:
    ``interrupt`` comes from another thread once items run, and the run must stop at
    once with KeyboardInterrupt, every started item cancelled and its threads joined."""
    started = threading.Event()
    entered = exited = 0

    @doteval.foreach("n", range(20))
    async def stuck(n):
        nonlocal entered, exited
        entered += 1
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            exited += 1

    def interrupt_once_started() -> None:
        started.wait(5)
        time.sleep(0.05)
        interrupt()

    async def cell() -> None:
        doteval.run(stuck, backend="trio", max_concurrency=5)

    loop = asyncio.new_event_loop()
    threading.Thread(target=interrupt_once_started).start()
    begin = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(cell())
    finally:
        loop.close()
    assert time.monotonic() - begin < 5
    assert entered == exited == 5
    assert _portal_threads() == []


def test_ctrl_c_inside_a_loop_cancels_the_run_and_joins_its_thread() -> None:
    main = threading.main_thread().ident
    assert main is not None
    _interrupted_inside_a_loop(lambda: signal.pthread_kill(main, signal.SIGINT))


class _DroppedCtrlC:
    """A finalizer that raises ``KeyboardInterrupt``, as one does when Ctrl-C's handler
    runs inside it: Python prints "Exception ignored" and drops the interrupt."""

    def __del__(self) -> None:
        raise KeyboardInterrupt


def test_a_ctrl_c_dropped_in_a_finalizer_still_stops_a_run_inside_a_loop() -> None:
    _interrupted_inside_a_loop(_DroppedCtrlC)  # collected at once: reported, not raised
