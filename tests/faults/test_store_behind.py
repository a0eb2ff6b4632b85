"""A store that falls behind makes the run wait: finished records never pile up unstored
for longer than the flush interval, so a SIGKILL loses at most about that much."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio
import pytest

import doteval
from doteval.evaluators import exact_match


async def test_the_run_waits_for_a_store_that_is_behind_by_age_not_only_by_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from doteval._private.persist import hook
    from doteval._private.storage.backends import sqlite

    # Only the bound by age applies: the count bound would allow every record to wait.
    # A short age keeps the records that wait meanwhile far below the count bound on any
    # machine: at 100,000 items a second, 0.05 s of them is 5,000.
    monkeypatch.setattr(hook, "MAX_PENDING", 10**9)
    monkeypatch.setattr(hook, "FLUSH_INTERVAL", 0.05)
    store_caught_up = threading.Event()
    write = sqlite._Writer.write

    def stuck_write(self: Any, *args: Any) -> Any:
        store_caught_up.wait(2)  # a store that stalls until the run waits for it
        return write(self, *args)

    monkeypatch.setattr(sqlite._Writer, "write", stuck_write)
    taken: list[int] = []
    wait_for_room = hook.PersistHook.wait_for_room

    async def waiting(self: Any) -> None:
        if not taken:
            taken.append(self.aggregator.counts.total)
            store_caught_up.set()
        await wait_for_room(self)

    monkeypatch.setattr(hook.PersistHook, "wait_for_room", waiting)

    @doteval.foreach("n", range(60_000))
    async def eval_quick(n: int) -> doteval.Score:
        await anyio.lowlevel.checkpoint()
        return exact_match(n, n)

    with anyio.fail_after(120):
        result = await eval_quick(
            storage=f"sqlite://{tmp_path / 'store.db'}", progress=False, keep_records=False
        )
    assert result.counts.total == 60_000
    # The run waited once records were 0.05 s old: far fewer than the 20,000 the count
    # bound alone would let wait.
    assert taken
    assert taken[0] < 20_000
