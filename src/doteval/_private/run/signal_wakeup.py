"""Wakes the main thread while it waits for a run, so that a Ctrl-C is handled at once.

Linux may deliver Ctrl-C's SIGINT to any thread of the process. Python runs the
handler (the ``KeyboardInterrupt``) in the main thread, and only once that thread
runs Python code again. An asyncio loop waiting in its selector for a distant timer
(an item's 30 s timeout), or a thread waiting on a lock for a run in another thread,
would put the interrupt off until then.

A Ctrl-C can also be lost outright: Python raises ``KeyboardInterrupt`` wherever the
main thread is when the signal comes, and if that is a weakref callback or a
``__del__`` (the garbage collector runs them at any allocation), it prints
"Exception ignored" and drops it. :class:`DroppedInterrupts` notes such a drop: the
waker signals again from its own task, and a thread waiting for a run in another
thread raises it there, where the interrupt is raised like any other.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import anyio
import attrs

from doteval._private.concurrency.ticker import Ticker

SIGNAL_CHECK_INTERVAL = 0.1
"""Seconds at most between two wake-ups of a main thread waiting for a run."""


def on_main_thread() -> bool:
    """Signals are handled on the main thread only: elsewhere waking changes nothing."""
    return threading.current_thread() is threading.main_thread()


@attrs.define(eq=False, repr=False)
class DroppedInterrupts:
    """While entered, notes each ``KeyboardInterrupt`` Python reports as unraisable (and
    would otherwise drop); :meth:`take` says whether one came since it last asked."""

    _dropped: bool = False
    _previous: Any = None

    def __enter__(self) -> DroppedInterrupts:
        self._previous = sys.unraisablehook
        sys.unraisablehook = self._note
        return self

    def __exit__(self, *exc_info: object) -> None:
        if sys.unraisablehook == self._note:
            sys.unraisablehook = self._previous

    def take(self) -> bool:
        dropped, self._dropped = self._dropped, False
        return dropped

    def _note(self, unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            self._dropped = True  # raised again by the code that takes it, outside the hook
        else:
            self._previous(unraisable)


@attrs.define(repr=False)
class SignalWaker(Ticker):
    """A task that wakes the event loop every :data:`SIGNAL_CHECK_INTERVAL` seconds
    until :meth:`stop`, and raises again a Ctrl-C dropped meanwhile."""

    async def tick(self) -> None:
        with DroppedInterrupts() as dropped:
            while True:
                await anyio.sleep(SIGNAL_CHECK_INTERVAL)
                if dropped.take():
                    signal.raise_signal(signal.SIGINT)  # handled as Ctrl-C is, here
