"""``doteval.run``: a synchronous entry point for scripts and notebooks."""

from __future__ import annotations

import contextvars
import functools
import sys
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any, ParamSpec, TypeVar, cast

import anyio
import anyio.from_thread
import attrs

from doteval._private.api.foreach import Evaluation
from doteval._private.results.records import EvaluationResult
from doteval._private.run.signal_wakeup import (
    SIGNAL_CHECK_INTERVAL,
    DroppedInterrupts,
    on_main_thread,
)

P = ParamSpec("P")
T = TypeVar("T")


def _event_loop_running() -> bool:
    try:
        anyio.get_cancelled_exc_class()
    except anyio.NoEventLoopError:
        pass
    else:
        return True
    # Jupyter runs cells inside its own asyncio loop, sometimes outside any task.
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and asyncio._get_running_loop() is not None


def run(
    evaluation: Callable[P, Awaitable[EvaluationResult]],
    backend: str = "asyncio",
    *args: P.args,
    **kwargs: P.kwargs,
) -> EvaluationResult:
    """Run ``evaluation`` to completion and return its result; the keyword arguments are
    those of calling it (run options, and the evaluation's own arguments).

    Inside a running event loop (a Jupyter cell), the run gets its own event loop
    in a worker thread, which is joined before this returns.
    """
    if not isinstance(cast(object, evaluation), Evaluation):
        raise TypeError(
            f"doteval.run() takes a function decorated with @doteval.foreach or "
            f"@doteval.batch, got {evaluation!r}"
        )
    call = functools.partial(_returning_interrupts, functools.partial(evaluation, *args, **kwargs))
    try:
        if not _event_loop_running():
            outcome = anyio.run(call, backend=backend)
        else:
            outcome = _run_in_thread(call, backend)
    except KeyboardInterrupt:  # Ctrl-C, delivered by the event loop
        outcome = _Interrupted(KeyboardInterrupt())
    if isinstance(outcome, _Interrupted):
        # Raised afresh, outside any except block: the user's traceback ends at this
        # call, without the event loop's frames or the cancellation it went through.
        raise _afresh(outcome.error)
    return outcome


@attrs.frozen(repr=False)
class _Interrupted:
    error: KeyboardInterrupt | SystemExit


async def _returning_interrupts(
    call: Callable[[], Awaitable[EvaluationResult]],
) -> EvaluationResult | _Interrupted:
    """The run's result, or the ``KeyboardInterrupt``/``SystemExit`` that ended it (from a
    plain ``def`` item), raised again once its event loop is closed: raised out of the
    loop's main task, asyncio would stop the loop before its clean-up (anyio stops its
    worker threads, a blocking portal its tasks) had run."""
    try:
        return await call()
    except (KeyboardInterrupt, SystemExit) as exc:
        return _Interrupted(exc)


def _afresh(error: KeyboardInterrupt | SystemExit) -> KeyboardInterrupt | SystemExit:
    """A new exception like ``error``: same type and arguments, no traceback or context."""
    return type(error)(*error.args)


def _wait_for(future: Future[Any]) -> None:
    """Wait until ``future`` is done, in short waits (see :mod:`.signal_wakeup`): one long
    wait on a lock would put off a Ctrl-C delivered to another thread until the run
    ended by itself, and a Ctrl-C Python dropped in a finalizer meanwhile is raised."""
    with DroppedInterrupts() as dropped:
        while not future.done():
            wait((future,), timeout=SIGNAL_CHECK_INTERVAL)
            if dropped.take() and on_main_thread():
                raise KeyboardInterrupt


def _run_in_thread(call: Callable[[], Awaitable[T]], backend: str) -> T:
    """Run ``call`` in a new event loop in a helper thread, joined before returning.

    The helper thread, not this one, drives the blocking portal: trio refuses
    blocking portal calls from a thread that is itself running trio.
    """
    interrupted: Future[None] = Future()
    outcome: Future[T] = Future()

    def drive() -> None:
        try:
            with anyio.from_thread.start_blocking_portal(backend) as portal:
                running = portal.start_task_soon(call)
                either: list[Future[Any]] = [running, interrupted]
                wait(either, return_when=FIRST_COMPLETED)
                running.cancel()  # a no-op once done; otherwise cancels the run's task
                outcome.set_result(running.result())
        except BaseException as exc:
            if not outcome.done():  # else the run's outcome is set: report that one
                outcome.set_exception(exc)

    helper = threading.Thread(
        target=contextvars.copy_context().run, args=(drive,), name="doteval-run"
    )
    helper.start()
    # Wait on the outcome rather than join(): an interrupted join() marks the thread
    # as stopped on some Python versions, and the second join() would not wait.
    try:
        _wait_for(outcome)
    except BaseException:  # Ctrl-C: cancel the run, wait for it to end, re-raise
        interrupted.set_result(None)
        _wait_for(outcome)
        raise
    finally:
        helper.join()
    return outcome.result()
