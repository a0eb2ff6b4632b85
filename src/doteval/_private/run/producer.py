"""The producer: reads the dataset one row at a time and hands out the items to run.

A resumed run walks the stored items alongside (see
:mod:`~doteval._private.persist.resume`): stored successes are skipped. A shard's
run reads every row too (so that the rows other shards stored are checked against
the dataset), and hands out only the items of its share.
"""

from __future__ import annotations

import operator
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from contextlib import aclosing
from typing import Any

import anyio
import attrs
from anyio.streams.memory import MemoryObjectSendStream

from doteval._private.concurrency.handler import Job, Work
from doteval._private.concurrency.streams import send
from doteval._private.errors import DatasetError
from doteval._private.persist.hook import PersistHook
from doteval._private.persist.resume import NOTHING
from doteval._private.results.records import Record
from doteval._private.run.plan import RunPlan

SLOW_ITEM = 0.001
"""Seconds an item takes beyond which a checkpoint per job costs it under 1 %."""


@attrs.define(repr=False)
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
    broken: DatasetError | None = None
    """The dataset broke while read: the jobs handed out before still run (they are
    evaluated and stored, as the error says), then the run raises this."""

    def observe(self, record: Record) -> None:
        self.paced = record.duration >= SLOW_ITEM


async def _each(
    rows: Iterable[Any] | AsyncIterator[Any], evaluation: str
) -> AsyncGenerator[Any, None]:
    """Both kinds of dataset as one async iterator, read one row at a time; a row that
    cannot be read stops the run with a :class:`DatasetError` saying which."""
    position = 0
    try:
        if isinstance(rows, AsyncIterator):
            async for row in rows:
                yield row
                position += 1
        else:
            for row in rows:
                yield row
                position += 1
    except Exception as exc:
        raise DatasetError(
            f"reading row {position} of the dataset of {evaluation} raised "
            f"{type(exc).__name__}: {exc}; the items before it were evaluated"
        ) from exc


async def _hand_out(jobs: MemoryObjectSendStream[Work], work: Work, handout: Handout) -> None:
    if handout.paced:
        await jobs.send(work)  # checkpoints first: one per pass
    else:
        await send(jobs, work)


async def _feed(
    rows: AsyncIterator[Any],
    plan: RunPlan,
    jobs: MemoryObjectSendStream[Work],
    persist: PersistHook,
    handout: Handout,
) -> int:
    """Send the items to run (each epoch of each), skipping stored successes and the
    items of other shards, one by one or in batches of the plan's size (the last one may
    be short); the number of rows read."""
    limit = plan.samples
    stored = persist.cursor
    stats = plan.runner.stats
    epochs = plan.sampling.epochs
    size = plan.batch_size
    batch: list[Job] = []
    shard = persist.target.shard
    item_id = 0
    async for row in rows:
        done = NOTHING
        if stored is not None and not stored.exhausted:
            found = stored.stored_epochs(item_id, row)
            if found is None:
                await stored.refill(item_id)
                found = stored.stored_epochs(item_id, row)
            done = found or NOTHING
        if shard is None or shard.holds(item_id):
            if done and stats is not None:
                stats.skipped += len(done)  # stored already: the display counts them done
            for epoch in range(epochs):
                if epoch in done:
                    continue
                if size is None:
                    await _hand_out(jobs, (item_id, row, epoch), handout)
                    continue
                batch.append((item_id, row, epoch))
                if len(batch) == size:
                    await _hand_out(jobs, tuple(batch), handout)
                    batch.clear()
        item_id += 1
        if item_id == limit:
            break
    if batch:
        await _hand_out(jobs, tuple(batch), handout)
    return item_id


async def produce(
    plan: RunPlan,
    jobs: MemoryObjectSendStream[Work],
    persist: PersistHook,
    handout: Handout,
) -> None:
    """Send every item the run must evaluate, then close ``jobs``."""
    limit = plan.samples
    async with jobs, aclosing(_each(plan.rows, plan.evaluation)) as rows:
        if limit == 0:
            persist.rows = 0
            return
        try:
            read = await _feed(rows, plan, jobs, persist, handout)
        except DatasetError as exc:
            handout.broken = exc  # closing the jobs lets the workers finish theirs
            return
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            # The workers are gone: the error or cancellation that stopped them is the
            # one to report, not this consequence of it.
            return
        # Not cut short if the rows are known to end there (a list's iterator says how
        # many it has left); the next row is never read to find out.
        if read == limit and operator.length_hint(plan.rows, -1) != 0:
            persist.cut_short = True
        elif persist.cursor is not None:
            await persist.cursor.check_end(read)
        persist.rows = read
