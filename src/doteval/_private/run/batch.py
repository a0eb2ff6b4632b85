"""Running a batch of items through one call of a ``@batch`` evaluation.

The batch is the unit of work: the window admits it, the retry policy retries it
and ``timeout=`` bounds each attempt of it as a whole, all through the item runner's
own call. Its records are still one per item, so storage, resuming, progress and
the statistics see items as they do for ``@foreach``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import attrs

from doteval._private.concurrency.handler import AttemptGate, Job, JobBatch
from doteval._private.errors import ReturnValueError, RowError
from doteval._private.results.records import ErrorInfo, Record
from doteval._private.run.binding import bind_row
from doteval._private.run.item import (
    Attempts,
    ItemRunner,
    describe_return,
    failed_record,
    to_scores,
)


def _per_item(value: Any, evaluation: str, items: int) -> Sequence[Any]:
    """The batch's return value as one value per item; raises ``ReturnValueError``."""
    if not isinstance(value, (list, tuple)):
        raise ReturnValueError(
            f"{evaluation} returned {describe_return(value)} for a batch of {items} items; "
            f"return a list of {items} values, one Score (or list of Scores, or Result) "
            f"per item, in the order of the batch's rows"
        )
    if len(value) != items:
        raise ReturnValueError(
            f"{evaluation} returned {len(value)} values for a batch of {items} items; "
            f"return one Score (or list of Scores, or Result) per item, in the order of "
            f"the batch's rows"
        )
    return value


@attrs.frozen(repr=False)
class BatchRunner:
    """Turns a batch of jobs into one record per job; never raises for anything the batch
    did wrong.

    A row that does not bind is that item's error record and is left out of the call;
    the others go to the evaluation as one list per column. An error of the call (after
    its retries), or a return value that is not one value per item, is an error record
    for every item called; a value that is not a score is its own item's error.
    """

    items: ItemRunner
    """The evaluation with its columns, arguments, retries, timeout, gate and counters."""

    def gated(self, gate: AttemptGate) -> BatchRunner:
        return BatchRunner(self.items.gated(gate))

    async def __call__(self, *jobs: Job) -> tuple[Record, ...]:
        stats = self.items.stats
        if stats is None:
            return await self._run(jobs)
        stats.started += len(jobs)
        try:
            return await self._run(jobs)
        finally:
            stats.finished += len(jobs)

    async def _run(self, jobs: JobBatch) -> tuple[Record, ...]:
        started = time.perf_counter()
        runner = self.items
        records: list[Record] = []
        called: list[tuple[Job, dict[str, Any]]] = []  # each job whose row binds, bound
        for job in jobs:
            try:
                called.append((job, bind_row(job[1], runner.columns)))
            except RowError as exc:
                item_id, row, epoch = job
                error = ErrorInfo.from_exception(exc)
                now = time.time()
                records.append(Record(item_id, row, error=error, timestamp=now, epoch=epoch))
        if not called:
            return tuple(records)
        arguments = {column: [bound[column] for _, bound in called] for column in runner.columns}
        arguments.update(runner.extra)
        attempts = Attempts(items=len(called))

        def failed(job: Job, bound: dict[str, Any], exc: Exception | ErrorInfo) -> Record:
            return failed_record(job[0], bound, exc, attempts, started, job[2])

        try:
            values = _per_item(
                await runner.call(arguments, attempts), runner.evaluation, len(called)
            )
        except Exception as exc:
            error = ErrorInfo.from_exception(exc)  # one error, the record of every item
            records.extend(failed(job, bound, error) for job, bound in called)
            return tuple(records)
        duration, now = time.perf_counter() - started, time.time()
        for position, ((job, bound), value) in enumerate(zip(called, values, strict=True)):
            try:
                scores, prompt, response = to_scores(
                    value, f"{runner.evaluation} (at position {position} of its batch)"
                )
            except Exception as exc:
                records.append(failed(job, bound, exc))
                continue
            item_id, _, epoch = job
            records.append(
                Record(
                    item_id,
                    bound,
                    scores,
                    prompt,
                    response,
                    None,
                    attempts.count,
                    duration,
                    now,
                    epoch,
                )
            )
        return tuple(records)
