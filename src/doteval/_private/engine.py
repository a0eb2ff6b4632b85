"""One evaluation run: a task group joining a producer, a strategy and one consumer."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AsyncExitStack
from typing import Any, Protocol

import anyio
import attrs
from anyio.streams.memory import MemoryObjectSendStream

from doteval._private.aggregate import Aggregator
from doteval._private.item import ItemRunner, Job
from doteval._private.records import EvaluationResult, Record
from doteval._private.rows import DatasetError
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


async def _produce(plan: RunPlan, jobs: MemoryObjectSendStream[Job]) -> None:
    limit = plan.samples
    async with jobs:
        if limit == 0:
            return
        item_id = 0
        try:
            if isinstance(plan.rows, AsyncIterator):
                async for row in plan.rows:
                    await jobs.send((item_id, row))
                    item_id += 1
                    if item_id == limit:
                        break
            else:
                for row in plan.rows:
                    try:
                        jobs.send_nowait((item_id, row))
                    except anyio.WouldBlock:
                        await jobs.send((item_id, row))
                    item_id += 1
                    if item_id == limit:
                        break
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise  # the consumer side is gone: a cancellation is already under way
        except Exception as exc:
            raise DatasetError(
                f"reading row {item_id} of the dataset of {plan.evaluation} raised "
                f"{type(exc).__name__}: {exc}; the items before it were evaluated"
            ) from exc


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
    aggregator = Aggregator(plan.keep_records)
    watchdog = (
        BlockingWatchdog(plan.evaluation, plan.blocking_threshold)
        if plan.runner.is_async and plan.blocking_threshold is not None
        else None
    )
    try:
        with jobs_in, jobs_out, results_in, results_out:
            async with (
                AsyncExitStack() as stack,
                anyio.create_task_group() as task_group,
            ):
                for hook in plan.hooks:
                    await stack.enter_async_context(hook)
                observers = [hook.record for hook in plan.hooks]
                task_group.start_soon(_produce, plan, jobs_in)
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
                if watchdog is not None:
                    watchdog.stop()
    except BaseExceptionGroup as group:
        error = _single_error(group)
        if error is None or isinstance(error, anyio.get_cancelled_exc_class()):
            raise
        raise error from None
    records = sorted(aggregator.records, key=_item_id)
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
