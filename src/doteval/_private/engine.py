"""One evaluation run: a task group joining a producer, a strategy and one consumer."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AsyncExitStack
from typing import Any, Protocol

import anyio
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from doteval._private.aggregate import Aggregator
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
    hooks: Sequence[RunHook] = ()
    store: StoreTarget | None = None
    """Where the run is persisted and resumed from; ``None`` keeps records in memory only."""


async def _produce(
    plan: RunPlan, jobs: MemoryObjectSendStream[Job], persist: PersistHook | None
) -> None:
    limit = plan.samples
    # Stored items, walked alongside the dataset: stored successes are skipped.
    stored = None if persist is None else persist.cursor
    async with jobs:
        if limit == 0:
            return
        item_id = 0
        try:
            if isinstance(plan.rows, AsyncIterator):
                async for row in plan.rows:
                    if stored is None or stored.exhausted:
                        run: bool | None = True
                    elif (run := stored.should_run(item_id, row)) is None:
                        await stored.refill(item_id)
                        run = stored.should_run(item_id, row)
                    if run:
                        await jobs.send((item_id, row))
                    elif plan.runner.stats is not None:
                        plan.runner.stats.skipped += 1  # stored already: the display counts it
                    item_id += 1
                    if item_id == limit:
                        break
            else:
                for row in plan.rows:
                    if stored is None or stored.exhausted:
                        run = True
                    elif (run := stored.should_run(item_id, row)) is None:
                        await stored.refill(item_id)
                        run = stored.should_run(item_id, row)
                    if run:
                        try:
                            jobs.send_nowait((item_id, row))
                        except anyio.WouldBlock:
                            await jobs.send((item_id, row))
                    elif plan.runner.stats is not None:
                        plan.runner.stats.skipped += 1
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
        if persist is not None:
            if item_id == limit:
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


def _single_error(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one real error in a task group's exception group, if there is exactly one."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        error = pending.pop()
        if isinstance(error, BaseExceptionGroup):
            pending.extend(error.exceptions)
        else:
            leaves.append(error)
    return leaves[0] if len(leaves) == 1 else None


async def execute(plan: RunPlan) -> EvaluationResult:
    started_at = time.time()
    started = time.perf_counter()
    window = plan.strategy.window_limit
    buffer = int(min(window, READ_AHEAD_LIMIT))
    jobs_in, jobs_out = anyio.create_memory_object_stream[Job](buffer)
    results_in, results_out = anyio.create_memory_object_stream[Record](buffer)
    persist = None
    if plan.store is None:
        aggregator = Aggregator(plan.keep_records)
    else:
        # Records live in the store, not in memory; the persist hook seeds the totals
        # with the stored successes of a resumed run.
        aggregator = Aggregator(keep_records=False, defer_custom=True)
        persist = PersistHook(
            plan.store, plan.evaluation, aggregator, plan.runner.columns, plan.samples
        )
    hooks = list(plan.hooks) if persist is None else [persist, *plan.hooks]
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
                observers = [hook.record for hook in hooks]
                try:
                    async with anyio.create_task_group() as task_group:
                        task_group.start_soon(_produce, plan, jobs_in, persist)
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
                            if persist is not None and persist.backlogged:
                                await persist.wait_for_room()  # the store is behind
                        if watchdog is not None:
                            watchdog.stop()
                except BaseException:
                    # Items that finished before a cancellation still count (and persist),
                    # including those a worker sent while the task group was winding down.
                    _drain(results_out, aggregator, observers)
                    raise
    except BaseExceptionGroup as group:
        error = _single_error(group)
        if error is None or isinstance(error, anyio.get_cancelled_exc_class()):
            raise
        raise error from None
    records: Iterable[Record]
    if persist is None:
        records = sorted(aggregator.records, key=_item_id)
    elif not plan.keep_records:
        records = ()
    else:
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


def _item_id(record: Record) -> int:
    return record.item_id
