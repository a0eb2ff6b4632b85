"""One evaluation run: a task group joining a producer, a strategy and one consumer.

:func:`execute` is the run, step by step: enter the hooks (storage first), run
the task group while the consumer takes each record, drain what finished if the
run is cancelled, report a task group's single error as itself, and build the
result.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence
from contextlib import AsyncExitStack
from typing import NoReturn

import anyio

from doteval._private.concurrency.handler import Job
from doteval._private.exception_groups import leaf_errors
from doteval._private.persist.hook import PersistHook
from doteval._private.results.aggregate import Aggregator
from doteval._private.results.records import EvaluationResult, Record
from doteval._private.run.binding import stored_row
from doteval._private.run.consumer import Observer, consume, drain
from doteval._private.run.plan import RunHook, RunPlan
from doteval._private.run.producer import Handout, produce
from doteval._private.run.threads import raise_interrupt
from doteval._private.run.watchdog import BlockingWatchdog
from doteval._private.storage.reading import StoredRecords

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

READ_AHEAD_LIMIT = 1024
"""Jobs and results buffered between tasks: memory stays O(window), not O(dataset)."""


async def _enter(stack: AsyncExitStack, hooks: Sequence[RunHook]) -> None:
    """Hooks wrap the task group: they see the run start and end around it."""
    for hook in hooks:
        await stack.enter_async_context(hook)


async def _run_tasks(
    plan: RunPlan,
    persist: PersistHook,
    observers: list[Observer],
    handout: Handout,
    buffer: int,
) -> None:
    """Producer, strategy and watchdog in one task group; this task consumes."""
    jobs_in, jobs_out = anyio.create_memory_object_stream[Job](buffer)
    results_in, results_out = anyio.create_memory_object_stream[Record](buffer)
    watchdog = (
        BlockingWatchdog(plan.evaluation, plan.blocking_threshold)
        if plan.runner.is_async and plan.blocking_threshold is not None
        else None
    )
    with jobs_in, jobs_out, results_in, results_out, plan.runner.threads:
        try:
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(produce, plan, jobs_in, persist, handout)
                task_group.start_soon(plan.strategy.run, jobs_out, results_in, plan.runner)
                if watchdog is not None:
                    task_group.start_soon(watchdog.run)
                await consume(results_out, observers, persist)
                if watchdog is not None:
                    watchdog.stop()
        except BaseException as error:
            # Including records a worker sent while the task group was winding down.
            drain(results_out, observers)
            raise_interrupt(error)  # Ctrl-C or sys.exit() in a plain def: as itself, here
            raise


def _unwrap(group: BaseExceptionGroup[BaseException]) -> NoReturn:
    """One real error inside a task group's group is reported as itself."""
    errors = leaf_errors(group)
    if len(errors) != 1 or isinstance(errors[0], anyio.get_cancelled_exc_class()):
        raise group
    raise errors[0] from None


def _result(
    plan: RunPlan,
    persist: PersistHook,
    aggregator: Aggregator,
    started_at: float,
    started: float,
) -> EvaluationResult:
    assert persist.storage is not None
    records: Iterable[Record] = ()
    if plan.keep_records:
        records = StoredRecords(
            persist.storage,
            persist.target.experiment,
            plan.evaluation,
            aggregator.counts.total,
            stop=plan.samples,
            contiguous=plan.sampling.epochs == 1,
            shard=plan.store.shard,
        )
    return EvaluationResult(
        evaluation=plan.evaluation,
        summary=aggregator.summary,
        counts=aggregator.counts,
        records=records,
        wall_time=time.perf_counter() - started,
        started_at=started_at,
        experiment=persist.target.experiment,
        storage=persist.storage.url,
        estimates=aggregator.estimates,
        epochs=plan.sampling.epochs,
        variance=aggregator.variance,
    )


async def execute(plan: RunPlan) -> EvaluationResult:
    started_at = time.time()
    started = time.perf_counter()
    buffer = int(min(plan.strategy.window_limit, READ_AHEAD_LIMIT))
    # Records live in the store, not in memory; the persist hook seeds the totals with
    # the stored successes of a resumed run.
    sampling = plan.sampling
    aggregator = Aggregator(
        defer_custom=True,
        cluster=sampling.cluster,
        epochs=sampling.epochs,
        reducers=sampling.reducers,
    )
    columns = plan.runner.columns
    persist = PersistHook(
        plan.store,
        plan.evaluation,
        aggregator,
        lambda row: stored_row(row, columns),
        plan.samples,
    )
    hooks: list[RunHook] = [persist, *plan.hooks]
    handout = Handout()
    observers: list[Observer] = [
        aggregator.add,
        *(hook.record for hook in hooks),
        handout.observe,
    ]
    try:
        async with AsyncExitStack() as stack:
            await _enter(stack, hooks)
            await _run_tasks(plan, persist, observers, handout, buffer)
    except BaseExceptionGroup as group:
        _unwrap(group)
    return _result(plan, persist, aggregator, started_at, started)
