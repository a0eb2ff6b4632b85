"""The threads a run's plain ``def`` evaluation runs in: daemon threads of the run's own.

A thread stuck in user code cannot be stopped. anyio's worker threads are not
daemonic, so one stuck call kept the process alive after Ctrl-C, and a cancelled
``to_thread.run_sync`` waited for it. Here, a call that is cancelled or times out
is abandoned at once: its thread runs on until the call returns and then retires,
nothing waits for it, and the interpreter can exit meanwhile. Idle threads are
stopped and joined when the run ends.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import attrs

from doteval._private.exception_groups import leaf_errors

JOIN_TIMEOUT = 1.0
"""Seconds the end of a run waits for an idle thread to return (it returns at once)."""


class ItemInterrupt(BaseException):
    """A ``KeyboardInterrupt`` or ``SystemExit`` raised by an item (in its thread, or in
    its task), carried to the run's own task, where :func:`raise_interrupt` raises it as
    itself.

    Raised as itself in an item's task, asyncio stops its event loop on the spot and,
    cleaning up, never runs the callbacks that stop anyio's worker threads or end a
    blocking portal's tasks, so the process could not exit.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


def raise_interrupt(error: BaseException) -> None:
    """Raise the interrupt an item carried in ``error`` (a task group's group), if any."""
    for leaf in leaf_errors(error):
        if isinstance(leaf, ItemInterrupt):
            raise leaf.error.with_traceback(leaf.error.__traceback__) from None


@attrs.define(eq=False, repr=False)
class _Call:
    fn: Callable[[], Any]
    done: anyio.Event
    value: Any = None
    error: BaseException | None = None
    abandoned: bool = False
    """Set once nobody waits for the call: its thread skips it if it has not started it,
    and retires when it returns, without reporting back to an event loop that may be
    gone or no longer running."""


@attrs.define(eq=False, repr=False)
class _Worker:
    calls: queue.SimpleQueue[_Call | None]
    thread: threading.Thread | None = None


@attrs.define(eq=False, repr=False)
class SyncThreads:
    """Runs blocking calls in daemon threads, reusing idle ones.

    The idle list is only touched on the event loop's thread; a thread reports each
    call back there, so it is idle again exactly when the loop knows it.
    """

    name: str
    _idle: list[_Worker] = attrs.field(factory=list)
    _started: int = 0
    _closed: bool = False
    _token: anyio.lowlevel.EventLoopToken | None = None

    async def call(self, fn: Callable[..., Any], /, **arguments: Any) -> Any:
        """``fn(**arguments)`` in a thread; cancelled, it stops waiting at once."""
        if self._token is None:
            self._token = anyio.lowlevel.current_token()
            self._closed = False
        context = contextvars.copy_context()  # as anyio's threads do: the caller's context
        call = _Call(lambda: context.run(fn, **arguments), anyio.Event())
        worker = self._idle.pop() if self._idle else self._start()
        worker.calls.put(call)
        try:
            await call.done.wait()
        except BaseException:  # cancelled, or timed out: the call runs on, unwaited for
            call.abandoned = True
            raise
        if call.error is None:
            return call.value
        error, call.error = call.error, None
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise ItemInterrupt(error)
        raise error

    def _start(self) -> _Worker:
        worker = _Worker(queue.SimpleQueue())
        self._started += 1
        worker.thread = threading.Thread(
            target=self._work,
            args=(worker, self._token),
            name=f"{self.name}-{self._started}",
            daemon=True,
        )
        worker.thread.start()
        return worker

    def _work(self, worker: _Worker, token: anyio.lowlevel.EventLoopToken) -> None:
        while True:
            call = worker.calls.get()
            if call is None:
                return
            try:
                if not call.abandoned:
                    call.value = call.fn()
            except BaseException as exc:
                call.error = exc
            if call.abandoned:  # nobody waits for it, and no run counts on this thread
                return
            try:
                anyio.from_thread.run_sync(self._report, worker, call, token=token)
            except Exception:  # the event loop is gone: nobody waits for this thread
                return
            del call

    def _report(self, worker: _Worker, call: _Call) -> None:
        """On the event loop: the call is done (or was abandoned), its thread is free."""
        if self._closed:
            worker.calls.put(None)
        else:
            self._idle.append(worker)
        call.done.set()

    def close(self) -> None:
        """Stop the idle threads and join them; abandoned calls' threads retire when
        their call returns."""
        self._closed = True
        self._token = None  # a later run may be on another event loop
        idle, self._idle = self._idle, []
        for worker in idle:
            worker.calls.put(None)
        for worker in idle:
            assert worker.thread is not None
            worker.thread.join(JOIN_TIMEOUT)

    def __enter__(self) -> SyncThreads:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
