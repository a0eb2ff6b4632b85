"""A second Ctrl-C while an interrupted run shuts down stops the process at once.

The first Ctrl-C ends a run cleanly: in-flight items are cancelled, what finished is
flushed and the evaluation is marked ``interrupted``. A user who presses Ctrl-C again
wants out now, not a KeyboardInterrupt raised inside the event loop's machinery (asyncio
then logs each task it tore through). Every committed write is already durable (a
SQLite transaction, a flushed jsonl line), so exiting at once keeps all that was stored.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

from doteval._private.exception_groups import leaf_errors
from doteval._private.run.threads import ItemInterrupt

EXIT_STATUS = 130
"""What a shell reports for a process ended by Ctrl-C."""


def ctrl_c_seen(error: BaseException) -> bool:
    """Did Ctrl-C end the run? Under trio it arrives as ``KeyboardInterrupt`` (carried as
    an ``ItemInterrupt`` when an item's task took it); asyncio's runner turns it into a
    cancellation of the main task and counts it."""
    for leaf in leaf_errors(error):
        if isinstance(leaf.error if isinstance(leaf, ItemInterrupt) else leaf, KeyboardInterrupt):
            return True
    handler = signal.getsignal(signal.SIGINT)
    runner = getattr(getattr(handler, "func", None), "__self__", None)
    return bool(getattr(runner, "_interrupt_count", 0))


def _stop_now(signum: int, frame: FrameType | None) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write("\ninterrupted again: stopping now; what was stored is kept\n")
        sys.stderr.flush()
    os._exit(EXIT_STATUS)


@contextlib.contextmanager
def stop_at_once_on_ctrl_c() -> Iterator[None]:
    """While the block runs, Ctrl-C exits the process at once (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        previous = signal.signal(signal.SIGINT, _stop_now)
    except (ValueError, OSError):  # no signals here (an embedded interpreter)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
