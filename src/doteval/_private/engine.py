"""One evaluation run: a task group joining a producer, a strategy and one consumer."""

from __future__ import annotations

import operator
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from contextlib import AsyncExitStack, aclosing
from typing import Any, Protocol

import anyio
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from doteval._private.aggregate import Aggregator
from doteval._private.exception_groups import leaf_errors
from doteval._private.item import ItemRunner, Job
from doteval._private.persist import PersistHook, StoreTarget
from doteval._private.records import EvaluationResult, Record
from doteval._private.rows import DatasetError
from doteval._private.storage.base import StorageError
from doteval._private.storage.reading import StoredRecords
from doteval._private.strategies import Strategy
from doteval._private.watchdog import BlockingWatchdog

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

READ_AHEAD_LIMIT = 1024
"""Jobs and results buffered between tasks: memory stays O(window), not O(dataset)."""

SLOW_ITEM = 0.001
"""Seconds an item takes beyond which a checkpoint per job costs it under 1 %."""


@attrs.define
class Handout:
    """How the producer hands out jobs: one per scheduler pass while items are slow.

    Handed out in bulk, the jobs of a whole window start in one scheduler pass, so
    their requests go out together, come back together, and leave the client idle
    in between (trio runs the tasks woken in one pass together, so the waves never
    break up). One job per pass spreads the requests out as a hand-written pool
    does. Quick items skip that checkpoint, which would cost them half their
    throughput; the first wave is paced because nothing is known yet.
    """

    paced: bool = True

    def observe(self, record: Record) -> None:
        self.paced = record.duration >= SLOW_ITEM


class RunHook(Protocol):
    """Something that follows a run: storage, progress display.

    It is entered before the first item starts and exited after the last record
    (or the error or cancellation that ended the run); ``record`` is called by the
    run's single consumer for every record, so it must not block.
    """

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc_info: Any) -> bool | None: ...

    def record(self, record: Record) -> None: ...


@attrs.frozen
class RunPlan:
    """Everything a run needs, resolved from the options."""

    evaluation: str
    rows: Iterable[Any] | AsyncIterator[Any]
    runner: ItemRunner
    strategy: Strategy
    samples: int | None
    keep_records: bool
    blocking_threshold: float | None
    store: StoreTarget
    """Where the run is persisted and resumed from (``memory://`` keeps it in the process)."""
    hooks: Sequence[RunHook] = ()


async def _each(rows: Iterable[Any] | AsyncIterator[Any]) -> AsyncGenerator[Any, None]:
    """Both kinds of dataset as one async iterator, read one row at a time."""
    if isinstance(rows, AsyncIterator):
        async for row in rows:
            yield row
    else:
        for row in rows:
            yield row


async def _produce(
    plan: RunPlan,
    jobs: MemoryObjectSendStream[Job],
    persist: PersistHook,
    handout: Handout,
) -> None:
    limit = plan.samples
    # Stored items, walked alongside the dataset: stored successes are skipped.
    stored = persist.cursor
    stats = plan.runner.stats
    async with jobs, aclosing(_each(plan.rows)) as rows:
        if limit == 0:
            return
        item_id = 0
        try:
            async for row in rows:
                run: bool | None = True
                if stored is not None and not stored.exhausted:
                    run = stored.should_run(item_id, row)
                    if run is None:
                        await stored.refill(item_id)
                        run = stored.should_run(item_id, row)
                if run:
                    if handout.paced:
                        await jobs.send((item_id, row))  # checkpoints first: one per pass
                    else:
                        try:
                            jobs.send_nowait((item_id, row))
                        except anyio.WouldBlock:
                            await jobs.send((item_id, row))
                elif stats is not None:
                    stats.skipped += 1  # stored already: the display counts it as done
                item_id += 1
                if item_id == limit:
                    break
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            # The workers are gone: the error or cancellation that stopped them is the
            # one to report, not this consequence of it.
            return
        except StorageError:
            raise
        except Exception as exc:
            raise DatasetError(
                f"reading row {item_id} of the dataset of {plan.evaluation} raised "
                f"{type(exc).__name__}: {exc}; the items before it were evaluated"
            ) from exc
        # Not cut short if the rows are known to end there (a list's iterator says how
        # many it has left); the next row is never read to find out.
        if item_id == limit and operator.length_hint(plan.rows, -1) != 0:
            persist.cut_short = True
        elif stored is not None:
            await stored.check_end(item_id)


def _drain(
    results: MemoryObjectReceiveStream[Record],
    aggregator: Aggregator,
    observers: Sequence[Callable[[Record], None]],
) -> None:
    """Take in the records already waiting in ``results``, without blocking."""
    while True:
        try:
            record = results.receive_nowait()
        except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
            return
        aggregator.add(record)
        for observe in observers:
            observe(record)


async def execute(plan: RunPlan) -> EvaluationResult:
    started_at = time.time()
    started = time.perf_counter()
    window = plan.strategy.window_limit
    buffer = int(min(window, READ_AHEAD_LIMIT))
    jobs_in, jobs_out = anyio.create_memory_object_stream[Job](buffer)
    results_in, results_out = anyio.create_memory_object_stream[Record](buffer)
    # Records live in the store, not in memory; the persist hook seeds the totals with
    # the stored successes of a resumed run.
    aggregator = Aggregator(defer_custom=True)
    persist = PersistHook(
        plan.store, plan.evaluation, aggregator, plan.runner.columns, plan.samples
    )
    hooks = [persist, *plan.hooks]
    watchdog = (
        BlockingWatchdog(plan.evaluation, plan.blocking_threshold)
        if plan.runner.is_async and plan.blocking_threshold is not None
        else None
    )
    try:
        with jobs_in, jobs_out, results_in, results_out:
            async with AsyncExitStack() as stack:
                # Hooks wrap the task group: they see the run start and end around it.
                for hook in hooks:
                    await stack.enter_async_context(hook)
                handout = Handout()
                observers = [*(hook.record for hook in hooks), handout.observe]
                try:
                    async with anyio.create_task_group() as task_group:
                        task_group.start_soon(_produce, plan, jobs_in, persist, handout)
                        task_group.start_soon(plan.strategy.run, jobs_out, results_in, plan.runner)
                        if watchdog is not None:
                            task_group.start_soon(watchdog.run)
                        while True:
                            try:
                                record = results_out.receive_nowait()
                            except anyio.WouldBlock:
                                try:
                                    record = await results_out.receive()
                                except anyio.EndOfStream:
                                    break
                            except anyio.EndOfStream:
                                break
                            aggregator.add(record)
                            for observe in observers:
                                observe(record)
                            if persist.backlogged:
                                await persist.wait_for_room()  # the store is behind
                        if watchdog is not None:
                            watchdog.stop()
                except BaseException:
                    # Items that finished before a cancellation still count (and persist),
                    # including those a worker sent while the task group was winding down.
                    _drain(results_out, aggregator, observers)
                    raise
    except BaseExceptionGroup as group:
        # One real error inside a task group's group is reported as itself.
        errors = leaf_errors(group)
        if len(errors) != 1 or isinstance(errors[0], anyio.get_cancelled_exc_class()):
            raise
        raise errors[0] from None
    records: Iterable[Record] = ()
    if plan.keep_records:
        assert persist.storage is not None
        records = StoredRecords(
            persist.storage,
            persist.target.experiment,
            plan.evaluation,
            aggregator.counts.total,
            stop=plan.samples,
        )
    return EvaluationResult(
        evaluation=plan.evaluation,
        summary=aggregator.summary,
        counts=aggregator.counts,
        records=records,
        wall_time=time.perf_counter() - started,
        started_at=started_at,
    )
