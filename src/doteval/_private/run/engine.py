"""One evaluation run: a task group joining a producer, a strategy and one consumer.

:func:`execute` is the run, step by step: enter the hooks (storage first), run
the task group while the consumer takes each record, drain what finished if the
run is cancelled, report a task group's single error as itself, and build the
result.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable, Sequence
from contextlib import AsyncExitStack, ExitStack
from typing import NoReturn

import anyio
import attrs

from doteval._private.concurrency.handler import Outcome, Work
from doteval._private.concurrency.ticker import Ticker
from doteval._private.exception_groups import leaf_errors
from doteval._private.persist.hook import PersistHook
from doteval._private.results.aggregate import Aggregator, Tally
from doteval._private.results.records import EvaluationResult, Record
from doteval._private.run.binding import stored_row
from doteval._private.run.consumer import Observer, consume, drain
from doteval._private.run.early_stop import ErrorStreak
from doteval._private.run.plan import RunEnd, RunHook, RunPlan
from doteval._private.run.producer import Handout, produce
from doteval._private.run.second_interrupt import ctrl_c_seen, stop_at_once_on_ctrl_c
from doteval._private.run.signal_wakeup import SignalWaker, on_main_thread
from doteval._private.run.threads import raise_interrupt
from doteval._private.run.watchdog import BlockingWatchdog
from doteval._private.storage.status import COMPLETED

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

READ_AHEAD_LIMIT = 1024
"""Items (as jobs, or in batches) each buffer between the run's tasks holds at least:
memory stays O(window), not O(dataset). Not fewer: a task runs on until it must wait,
so a worker takes every job the buffer holds before the producer runs again, and a
narrow buffer would make every few items a wait for the producer."""

WINDOWS_AHEAD = 8
"""Windows of work each buffer holds when that is more: with buffers of one window, a
wide window's workers each waited for the producer or the consumer at nearly every item
(at window 5,000, 0.45 of the throughput at window 10; about 0.7 with eight)."""


def buffer_size(plan: RunPlan) -> int:
    """Units of work each buffer between the run's tasks holds."""
    units = max(1, READ_AHEAD_LIMIT // (plan.batch_size or 1))  # a batch holds its rows
    window = plan.strategy.window_limit
    return units if math.isinf(window) else max(units, WINDOWS_AHEAD * int(window))


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
    streak: ErrorStreak,
    shutdown: ExitStack,
) -> None:
    """Producer, strategy and ticking tasks (watchdog, signal waker) in one task group;
    this task consumes. A run that ``streak`` stops ends here, as if its dataset had
    ended."""
    if persist.stored:
        streak.disarm()  # stored successes: this run can succeed
    with streak.scope:
        await _run_task_group(plan, persist, observers, handout, buffer, shutdown)
    persist.stopped_early = streak.reason


async def _run_task_group(
    plan: RunPlan,
    persist: PersistHook,
    observers: list[Observer],
    handout: Handout,
    buffer: int,
    shutdown: ExitStack,
) -> None:
    jobs_in, jobs_out = anyio.create_memory_object_stream[Work](buffer)
    results_in, results_out = anyio.create_memory_object_stream[Outcome](buffer)
    # Tasks that tick until the consumer has taken the last record.
    tickers: list[Ticker] = []
    if plan.runner.is_async and plan.blocking_threshold is not None:
        tickers.append(BlockingWatchdog(plan.evaluation, plan.blocking_threshold))
    if on_main_thread():
        tickers.append(SignalWaker())
    marks = persist.ticker()
    if marks is not None:
        tickers.append(marks)
    with jobs_in, jobs_out, results_in, results_out, plan.runner.threads:
        try:
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(produce, plan, jobs_in, persist, handout)
                task_group.start_soon(plan.strategy.run, jobs_out, results_in, plan.handler)
                for ticker in tickers:
                    task_group.start_soon(ticker.run)
                await consume(results_out, observers, persist)
                for ticker in tickers:
                    ticker.stop()
                if handout.broken is not None:
                    raise handout.broken
        except BaseException as error:
            if ctrl_c_seen(error):  # until the run has shut down: see second_interrupt
                shutdown.enter_context(stop_at_once_on_ctrl_c())
            # Including records a worker sent while the task group was winding down.
            drain(results_out, observers)
            raise_interrupt(error)  # Ctrl-C or sys.exit() in a plain def: as itself, here
            raise


def _unwrap(group: BaseExceptionGroup[BaseException]) -> NoReturn:
    """One real error inside a task group's group is reported as itself."""
    errors = leaf_errors(group)
    real = [error for error in errors if not isinstance(error, anyio.get_cancelled_exc_class())]
    if real and all(isinstance(error, KeyboardInterrupt) for error in real):
        raise real[0] from None  # Ctrl-C, however many tasks it reached
    if len(errors) != 1 or not real:
        raise group
    raise errors[0] from None


def _result(
    plan: RunPlan,
    persist: PersistHook,
    aggregator: Aggregator,
    this_run: Tally,
    started_at: float,
    started: float,
) -> EvaluationResult:
    assert persist.storage is not None
    records: Iterable[Record] = ()
    if plan.keep_records:
        from doteval._private.storage.reading import StoredRecords  # deferred: start-up time

        records = StoredRecords(
            persist.storage,
            persist.target.experiment,
            persist.evaluation,
            aggregator.counts.total,
            stop=plan.samples,
            contiguous=plan.sampling.epochs == 1,
            shard=plan.store.shard,
        )
    counts = attrs.evolve(aggregator.counts, attempts=this_run.attempts, retried=this_run.retried)
    return EvaluationResult(
        evaluation=persist.evaluation,
        summary=aggregator.summary,
        counts=counts,
        records=records,
        wall_time=time.perf_counter() - started,
        started_at=started_at,
        experiment=persist.target.experiment,
        storage=persist.storage.url,
        estimates=aggregator.estimates,
        epochs=plan.sampling.epochs,
        variance=aggregator.variance,
        status=persist.status or COMPLETED,
        stopped=persist.stopped_early,
    )


async def execute(plan: RunPlan) -> EvaluationResult:
    started_at = time.time()
    started = time.perf_counter()
    buffer = buffer_size(plan)
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
        aliases=plan.aliases,
    )
    hooks: list[RunHook] = [persist, *plan.hooks]
    handout = Handout()
    this_run = Tally()
    streak = ErrorStreak(plan.stop_after_errors)
    observers: list[Observer] = [
        aggregator.add,
        *(hook.record for hook in hooks),
        handout.observe,
        this_run.add,
        streak.observe,
    ]
    result: EvaluationResult | None = None
    error: BaseException | None = None
    shutdown = ExitStack()
    try:
        try:
            async with AsyncExitStack() as stack:
                await _enter(stack, hooks)
                if plan.reporter is not None and persist.stored:
                    plan.reporter.resumed(persist.stored)
                await _run_tasks(plan, persist, observers, handout, buffer, streak, shutdown)
        except BaseExceptionGroup as group:
            _unwrap(group)
        result = _result(plan, persist, aggregator, this_run, started_at, started)
        return result
    except BaseException as exc:
        error = exc
        raise
    finally:
        with shutdown:
            if plan.reporter is not None and persist.storage is not None:
                plan.reporter.ended(_ending(plan, persist, result, error))


def _ending(
    plan: RunPlan,
    persist: PersistHook,
    result: EvaluationResult | None,
    error: BaseException | None,
) -> RunEnd:
    assert persist.storage is not None
    return RunEnd(
        evaluation=persist.evaluation,
        experiment=persist.target.experiment,
        storage=persist.storage.url,
        status=persist.status,
        stored=persist.stored,
        result=result,
        error=error,
    )
