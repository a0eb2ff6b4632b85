"""The one thread that does a run's store I/O, and how the event loop waits for it.

The store's calls block (file and database I/O), so they never run on the event
loop; they do not go to anyio's thread pool either, whose idle threads outlive a
run. Each run has its own thread, joined before the run returns.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar, cast

import anyio
import anyio.from_thread
import anyio.lowlevel
import attrs

T = TypeVar("T")


@attrs.define(eq=False, repr=False)
class Call:
    """Work handed to the store thread, and how to tell the event loop it is done."""

    fn: Callable[[], Any]
    done: anyio.Event
    token: anyio.lowlevel.EventLoopToken
    value: Any = None
    error: BaseException | None = None

    @classmethod
    def of(cls, fn: Callable[[], Any]) -> Call:
        """A call to make from the thread, answered on the current event loop."""
        return cls(fn, anyio.Event(), anyio.lowlevel.current_token())

    async def result(self) -> Any:
        await self.done.wait()
        if self.error is not None:
            raise self.error
        return self.value

    def run(self) -> None:
        try:
            self.value = self.fn()
        except BaseException as exc:
            self.error = exc
        # The event loop may be gone or going (Ctrl-C): then nobody waits for the answer.
        with contextlib.suppress(Exception):
            anyio.from_thread.run_sync(self.done.set, token=self.token)


@attrs.define(eq=False, repr=False)
class StoreThread:
    """Runs submitted calls in order and, between them, ``tick`` (flushes, heartbeats).

    ``tick`` runs whenever the thread wakes: at least every ``interval`` seconds,
    and at once after :meth:`wake`.
    """

    name: str
    tick: Callable[[], None]
    interval: float
    _calls: deque[Call] = attrs.field(factory=deque)
    _wake: threading.Event = attrs.field(factory=threading.Event)
    _done: bool = False
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Call:
        """Queue ``fn(*args)``; await ``.result()`` for its value."""
        call = Call.of(functools.partial(fn, *args))
        self._calls.append(call)
        self._wake.set()
        return call

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the thread and wait for its result."""
        return cast(T, await self.submit(fn, *args).result())

    def stop(self, join: bool = True) -> None:
        """Let the thread return, and join it once it is idle (so at once)."""
        self._done = True
        self._wake.set()
        if join and self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._done:
            self._wake.wait(self.interval)
            self._wake.clear()
            while self._calls:
                self._calls.popleft().run()
            self.tick()
