"""Cancellation is prompt and clean; item errors are records; everything else propagates."""

from __future__ import annotations

import asyncio
import functools
import gc
import sys

import anyio
import attrs
import pytest

import doteval
from doteval import Record, Score, foreach
from doteval._private.api import foreach as evaluation_module
from doteval._private.run import engine as engine_module

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import ExceptionGroup


class Stuck:
    """An evaluation of ``n`` items that all sleep forever, counting entries and exits."""

    def __init__(self, n: int) -> None:
        self.entered = 0
        self.exited = 0

        @foreach("n", range(n))
        async def stuck(n):
            self.entered += 1
            try:
                await anyio.sleep_forever()
            finally:
                self.exited += 1

        self.evaluate = stuck

    async def wait_until_entered(self, count: int) -> None:
        with anyio.fail_after(5):
            while self.entered < count:
                await anyio.sleep(0.005)

    async def expire_once_entered(self, count: int, scope: anyio.CancelScope) -> None:
        """Make ``scope``'s deadline now once ``count`` items are in: a fixed deadline
        could pass on a loaded machine before they all are."""
        await self.wait_until_entered(count)
        scope.deadline = anyio.current_time()


@pytest.fixture
def seen_records(monkeypatch: pytest.MonkeyPatch) -> list[Record]:
    """Every record any run's consumer receives, even a run that is then cancelled."""
    records: list[Record] = []

    @attrs.define
    class Spy:
        async def __aenter__(self) -> Spy:
            return self

        async def __aexit__(self, *exc_info: object) -> None:
            return None

        def record(self, record: Record) -> None:
            records.append(record)

    real_execute = engine_module.execute

    async def spied(plan: engine_module.RunPlan) -> doteval.EvaluationResult:
        return await real_execute(attrs.evolve(plan, hooks=[*plan.hooks, Spy()]))

    monkeypatch.setattr(evaluation_module, "execute", spied)
    return records


async def test_move_on_after_stops_1000_items_promptly(seen_records: list[Record]) -> None:
    stuck = Stuck(1000)

    with anyio.move_on_after(60) as scope:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(stuck.expire_once_entered, 1000, scope)
            await stuck.evaluate(max_concurrency=1000)
    assert scope.cancelled_caught
    assert anyio.current_time() - scope.deadline < 4
    assert stuck.entered == stuck.exited == 1000
    assert seen_records == []


async def test_cancelling_the_callers_task_group_stops_the_run(
    seen_records: list[Record],
) -> None:
    stuck = Stuck(1000)
    with anyio.move_on_after(5) as outer:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(functools.partial(stuck.evaluate, max_concurrency=1000))
            await stuck.wait_until_entered(1000)
            task_group.cancel_scope.cancel()
    assert not outer.cancelled_caught
    assert stuck.entered == stuck.exited == 1000
    assert seen_records == []


async def test_a_timeout_on_the_caller_stops_the_run(seen_records: list[Record]) -> None:
    stuck = Stuck(100)

    async def time_out_once_all_started() -> None:
        with anyio.fail_after(10) as scope:
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(stuck.expire_once_entered, 100, scope)
                await stuck.evaluate(max_concurrency=100)

    begin = anyio.current_time()
    with pytest.raises(TimeoutError):
        await time_out_once_all_started()
    assert anyio.current_time() - begin < 5
    assert stuck.entered == stuck.exited == 100
    assert seen_records == []


async def test_a_failing_sibling_task_stops_the_run(seen_records: list[Record]) -> None:
    stuck = Stuck(1000)

    async def sibling() -> None:
        await stuck.wait_until_entered(1000)
        raise RuntimeError("the sibling failed")

    async def run_both() -> None:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(functools.partial(stuck.evaluate, max_concurrency=1000))
            task_group.start_soon(sibling)

    begin = anyio.current_time()
    with pytest.raises(ExceptionGroup) as caught:
        await run_both()
    assert anyio.current_time() - begin < 5
    assert [type(error) for error in caught.value.exceptions] == [RuntimeError]
    assert stuck.entered == stuck.exited == 1000
    assert seen_records == []


async def test_items_already_done_are_recorded_before_a_cancellation(
    seen_records: list[Record],
) -> None:
    gate = anyio.Event()

    @foreach("n", range(10))
    async def evaluate(n):
        if n >= 3:
            await gate.wait()
        return Score("ok", True)

    with anyio.move_on_after(0.2):
        await evaluate(max_concurrency=10)
    assert sorted(record.item_id for record in seen_records) == [0, 1, 2]
    assert all(record.error is None for record in seen_records)


def test_no_task_is_left_on_asyncio() -> None:
    async def main() -> set[asyncio.Task[object]]:
        stuck = Stuck(200)
        with anyio.move_on_after(0.2):
            await stuck.evaluate(max_concurrency=200)
        await asyncio.sleep(0)
        return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]

    assert asyncio.run(main()) == set()


# --- what is and is not an item error ----------------------------------------------


async def test_an_exception_becomes_an_error_record_and_the_run_goes_on() -> None:
    @foreach("question", ["a", "b", "c"])
    async def evaluate(question):
        if question == "b":
            raise ZeroDivisionError("division by zero in the grader")
        return Score("ok", True)

    result = await evaluate()
    assert result.counts.total == 3
    (record,) = result.errors
    assert record.error is not None
    assert record.error.type == "ZeroDivisionError"
    assert record.error.message == "division by zero in the grader"
    assert "Traceback (most recent call last)" in record.error.traceback
    assert "in evaluate" in record.error.traceback
    assert "ZeroDivisionError: division by zero in the grader" in record.error.traceback


class Abort(BaseException):
    """Like KeyboardInterrupt or SystemExit: not an error of the item."""


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
async def test_base_exceptions_from_the_evaluation_propagate(sync: bool) -> None:
    def body(n: int) -> Score:
        if n == 5:
            raise Abort("stop everything")
        return Score("ok", True)

    if sync:

        @foreach("n", range(20))
        def evaluate(n):
            return body(n)

    else:

        @foreach("n", range(20))
        async def evaluate(n):
            await anyio.sleep(0.001)
            return body(n)

    with pytest.raises(Abort, match="stop everything"):
        await evaluate(max_concurrency=4)


# asyncio stops its loop at once when a task raises KeyboardInterrupt, and cancels tasks
# that never started: their coroutines are then reported as "never awaited".
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
def test_keyboard_interrupt_is_never_swallowed(backend: str, sync: bool) -> None:
    # A sync item's KeyboardInterrupt comes from its thread; that the process then exits
    # is tested in a child process (test_sync_hangs.py).
    def body(n: int) -> Score:
        if n == 2:
            raise KeyboardInterrupt
        return Score("ok", True)

    if sync:

        @foreach("n", range(5))
        def evaluate(n):
            return body(n)

    else:

        @foreach("n", range(5))
        async def evaluate(n):
            return body(n)

    with pytest.raises(KeyboardInterrupt):
        anyio.run(evaluate, backend=backend)
    gc.collect()  # reports asyncio's abandoned coroutines here, where they are ignored


async def test_a_crash_inside_doteval_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    class BrokenHook:
        async def __aenter__(self) -> BrokenHook:
            return self

        async def __aexit__(self, *exc_info: object) -> None:
            return None

        def record(self, record: Record) -> None:
            raise LookupError("bug in a hook")

    real_execute = engine_module.execute

    async def broken(plan: engine_module.RunPlan) -> doteval.EvaluationResult:
        return await real_execute(attrs.evolve(plan, hooks=[*plan.hooks, BrokenHook()]))

    monkeypatch.setattr(evaluation_module, "execute", broken)

    @foreach("n", range(5))
    async def evaluate(n):
        return Score("ok", True)

    with anyio.fail_after(5), pytest.raises(LookupError, match="bug in a hook"):
        await evaluate()


async def test_a_hook_failing_to_enter_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    class BrokenHook:
        async def __aenter__(self) -> BrokenHook:
            raise OSError("cannot open the display")

        async def __aexit__(self, *exc_info: object) -> None:
            return None

        def record(self, record: Record) -> None:
            pass

    real_execute = engine_module.execute

    async def broken(plan: engine_module.RunPlan) -> doteval.EvaluationResult:
        return await real_execute(attrs.evolve(plan, hooks=[*plan.hooks, BrokenHook()]))

    monkeypatch.setattr(evaluation_module, "execute", broken)
    started = 0

    @foreach("n", range(5))
    async def evaluate(n):
        nonlocal started
        started += 1
        return Score("ok", True)

    with pytest.raises(OSError, match="cannot open the display"):
        await evaluate()
    assert started == 0
