"""Who runs an evaluation: a token, a process and a heartbeat; stale once the holder is gone.

A run of one shard of an evaluation holds a lease of its own, which names the shard.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import attrs

from doteval._private.storage.shard import Shard

HEARTBEAT_INTERVAL = 5.0
"""Seconds between the holder's heartbeats (the writer thread refreshes the lease)."""

HEARTBEAT_TIMEOUT = 60.0
"""A lease whose heartbeat is older than this is stale, whatever host holds it."""

_ACTIVE: set[str] = set()
"""Tokens of the leases this process holds right now."""


@attrs.frozen
class Lease:
    token: str
    pid: int
    host: str
    heartbeat: float
    shard: Shard | None = None
    """The shard this lease runs (``None``: the whole evaluation)."""

    @classmethod
    def mine(cls, shard: Shard | None = None) -> Lease:
        # os.urandom is what secrets.token_hex reads, without importing hmac and random
        token = os.urandom(8).hex()
        return cls(token, os.getpid(), socket.gethostname(), time.time(), shard)

    def beat(self) -> Lease:
        return attrs.evolve(self, heartbeat=time.time())

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "token": self.token,
            "pid": self.pid,
            "host": self.host,
            "heartbeat": self.heartbeat,
        }
        if self.shard is not None:
            found["shard"] = str(self.shard)
        return found

    @classmethod
    def from_json(cls, data: Any) -> Lease | None:
        if not isinstance(data, dict):
            return None
        try:
            shard = data.get("shard")
            return cls(
                str(data["token"]),
                int(data["pid"]),
                str(data["host"]),
                data["heartbeat"],
                None if shard is None else Shard.parse(shard, "a stored lease's shard "),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def describe(self) -> str:
        age = max(0.0, time.time() - self.heartbeat)
        return f"process {self.pid} on {self.host} (last heartbeat {age:.0f} s ago)"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    except OSError:
        return True  # cannot tell: rely on the heartbeat
    return True


def is_stale(lease: Lease, now: float | None = None) -> bool:
    """Whether the holder is gone: at once for a dead pid on this host, else by heartbeat."""
    now = time.time() if now is None else now
    if now - lease.heartbeat > HEARTBEAT_TIMEOUT:
        return True
    if lease.host != socket.gethostname():
        return False
    if lease.pid == os.getpid():
        return lease.token not in _ACTIVE  # left behind by an earlier run in this process
    return not _pid_alive(lease.pid)


def activate(lease: Lease) -> None:
    _ACTIVE.add(lease.token)


def deactivate(lease: Lease) -> None:
    _ACTIVE.discard(lease.token)
