"""Who holds a store's lock, said so that the user can act: which process, whether it is
stopped, and how to free it.

A process stopped with Ctrl-Z or ``kill -STOP`` keeps every lock it holds, and is
alive as far as a pid check goes; on Linux ``/proc`` tells a stopped process apart.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable

from doteval._private.storage.lease import HEARTBEAT_TIMEOUT


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive, owned by someone else; or cannot tell
        return True
    return True


def _stopped(pid: int) -> bool:
    """Whether ``pid`` is stopped (Linux only; elsewhere, ``False``)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    # "pid (command) state ...": the command may hold spaces and parentheses.
    fields = stat[stat.rfind(b")") + 1 :].split()
    return bool(fields) and fields[0] in (b"T", b"t")


def may_be_running(pid: int, host: str, heartbeat: float) -> bool:
    """Whether a lease's holder may still be running (and holding a lock): on this host,
    while its pid is alive, however old its heartbeat (a stopped process beats no more);
    on another, while its heartbeat is recent."""
    if host == socket.gethostname():
        return _alive(pid)
    return time.time() - heartbeat <= HEARTBEAT_TIMEOUT


def describe_process(pid: int, host: str, since: float | None = None) -> str:
    """``process 4242 on HOST (stopped, for 12 s)``, with what is known of its state."""
    notes = []
    if host == socket.gethostname():
        if not _alive(pid):
            notes.append("no longer running: a process it started may hold the lock")
        elif _stopped(pid):
            notes.append("stopped")
    if since is not None:
        notes.append(f"holding it for {max(0.0, time.time() - since):.0f} s")
    return f"process {pid} on {host}" + (f" ({', '.join(notes)})" if notes else "")


def how_to_free(pids: Iterable[int]) -> str:
    """What to do about a lock held too long by one of ``pids`` (or by an unknown holder),
    as a sentence."""
    listed = sorted(set(pids))
    if not listed:
        return "Wait for the other program to finish, then try again"
    which = " ".join(map(str, listed))
    return (
        f"If that process is stopped (Ctrl-Z or kill -STOP), resume it with "
        f"`kill -CONT {which}` or end it; otherwise wait for it to finish and try again"
    )
