"""Wakes the main thread while it waits for a run, so that a Ctrl-C is handled at once.

Linux may deliver Ctrl-C's SIGINT to any thread of the process. Python runs the
handler (the ``KeyboardInterrupt``) in the main thread, and only once that thread
runs Python code again. An asyncio loop waiting in its selector for a distant timer
(an item's 30 s timeout), or a thread waiting on a lock for a run in another thread,
would put the interrupt off until then.
"""

from __future__ import annotations

import threading

import anyio
import attrs

SIGNAL_CHECK_INTERVAL = 0.1
"""Seconds at most between two wake-ups of a main thread waiting for a run."""


def on_main_thread() -> bool:
    """Signals are handled on the main thread only: elsewhere waking changes nothing."""
    return threading.current_thread() is threading.main_thread()


@attrs.define
class SignalWaker:
    """A task that wakes the event loop every :data:`SIGNAL_CHECK_INTERVAL` seconds
    until :meth:`stop`."""

    scope: anyio.CancelScope = attrs.field(factory=anyio.CancelScope)

    async def run(self) -> None:
        with self.scope:
            while True:  # noqa: ASYNC110 - waking the loop is the point
                await anyio.sleep(SIGNAL_CHECK_INTERVAL)

    def stop(self) -> None:
        self.scope.cancel()
