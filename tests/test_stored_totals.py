"""The totals a store keeps for resuming are exactly those of its stored successes.

A run that groups nothing hands its own totals to the store thread as marks between
its records; the store thread then keeps no totals of its own. These tests resume
from what such runs stored, over several batches, with errors among the records.
"""

from __future__ import annotations

import functools
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

import doteval
from doteval.evaluators import exact_match
from doteval.storage import UnknownNameError
from test_resume import stored_ids

ROWS = 7_500
"""Several of the store thread's batches, and records after the last full one."""
FIRST = 5_000


def storing_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads that add records to totals other than the run's own."""
    from doteval._private.results.aggregate import Aggregator

    seen: list[str] = []
    add = Aggregator.add

    def noting(self: Aggregator, record: Any) -> None:
        name = threading.current_thread().name
        if name.startswith("doteval-store"):
            seen.append(name)
        add(self, record)

    monkeypatch.setattr(Aggregator, "add", noting)
    return seen


def evaluation(rows: int, failing: bool) -> Any:
    @doteval.foreach("n,group", [(n, n % 50) for n in range(rows)])
    async def eval_marks(n: int, group: int) -> doteval.Score:
        await anyio.lowlevel.checkpoint()
        if failing and n % 7 == 0:
            raise ValueError(f"item {n} failed")
        return exact_match(n % 3, 0)

    return eval_marks


async def resumed_against_fresh(store_url: str, **more: Any) -> tuple[Any, Any]:
    """A run of the first rows with errors, resumed over every row without them; and a
    fresh run of every row, in another experiment."""
    options: dict[str, Any] = {
        "storage": store_url,
        "progress": False,
        "keep_records": False,
        **more,
    }
    first = await evaluation(FIRST, failing=True)(experiment="marks", **options)
    assert first.counts.errors == len(range(0, FIRST, 7))
    resumed = await evaluation(ROWS, failing=False)(experiment="marks", **options)
    fresh = await evaluation(ROWS, failing=False)(experiment="fresh", **options)
    return resumed, fresh


@pytest.mark.parametrize("cluster", [None, "group"])
async def test_a_resumed_run_sums_up_as_a_fresh_one(
    store_url: str, monkeypatch: pytest.MonkeyPatch, cluster: str | None
) -> None:
    """Errors count in the run's totals (and in its clusters), not in the stored ones."""
    storing = storing_threads(monkeypatch)
    resumed, fresh = await resumed_against_fresh(store_url, cluster=cluster)
    assert resumed.summary == fresh.summary
    assert resumed.estimates == fresh.estimates
    assert resumed.summary["exact_match"]["accuracy"] == len(range(0, ROWS, 3)) / ROWS
    assert storing == []  # the runs marked their records: no totals on the store thread


async def test_error_records_with_scores_leave_the_stored_totals_to_the_store_thread(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """doteval's error records carry no scores; one that does (counted in the run's own
    totals, not in the stored successes') makes the store thread keep the totals from
    the last mark on, and the resumed run still sums up as a fresh one."""
    from doteval._private.run import item

    failed_record = item.failed_record

    def with_a_score(*args: Any) -> Any:
        return attrs.evolve(failed_record(*args), scores=(exact_match(1, 1),))

    monkeypatch.setattr(item, "failed_record", with_a_score)
    storing = storing_threads(monkeypatch)
    resumed, fresh = await resumed_against_fresh(store_url)
    assert resumed.summary == fresh.summary
    assert resumed.estimates == fresh.estimates
    assert storing  # the store thread took over the totals


async def test_a_record_that_fills_no_batch_is_stored_while_the_run_goes_on(
    store_url: str,
) -> None:
    """Records that trickle in are marked on a timer, so the store thread writes them
    within its flush interval instead of when the run ends."""
    release = anyio.Event()

    @doteval.foreach("n", range(2))
    async def eval_trickle(n: int) -> doteval.Score:
        if n == 1:
            await release.wait()
        return exact_match(n, n)

    def stored() -> list[int]:
        try:
            return stored_ids(store_url, "trickle", eval_trickle.name)
        except UnknownNameError:  # not begun yet
            return []

    run = functools.partial(
        eval_trickle, storage=store_url, experiment="trickle", progress=False, max_concurrency=2
    )
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(run)
        with anyio.fail_after(5):  # the flush interval is 0.2 s
            while stored() != [0]:
                await anyio.sleep(0.01)
        release.set()
    assert stored() == [0, 1]


async def test_the_lease_stays_alive_while_records_wait_for_their_mark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blocked event loop marks nothing; the store thread, with nothing it may write,
    still refreshes the lease, so no other process takes the evaluation over."""
    from doteval._private.persist import hook
    from doteval._private.storage.backends import sqlite

    monkeypatch.setattr(hook, "HEARTBEAT_INTERVAL", 0.05)
    blocked = threading.Event()
    beats_while_blocked: list[float] = []
    heartbeat = sqlite._Writer.heartbeat

    def counted(self: Any) -> None:
        if blocked.is_set():
            beats_while_blocked.append(time.monotonic())
        heartbeat(self)

    monkeypatch.setattr(sqlite._Writer, "heartbeat", counted)

    @doteval.foreach("n", range(2))
    async def eval_blocks(n: int) -> doteval.Score:
        if n == 1:
            for _ in range(5):  # the consumer takes item 0's record: it waits for its mark
                await anyio.lowlevel.checkpoint()
            blocked.set()
            time.sleep(0.8)  # blocks the event loop, and the mark ticker with it
            blocked.clear()
        return exact_match(n, n)

    result = await eval_blocks(
        storage=f"sqlite://{tmp_path / 'store.db'}",
        max_concurrency=1,
        progress=False,
        blocking_threshold=30,
    )
    assert result.counts.total == 2
    assert len(beats_while_blocked) >= 2
