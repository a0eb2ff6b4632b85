"""A resizable pool of workers between two memory object streams."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import attrs
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from doteval._private.concurrency.handler import Outcome, Work
from doteval._private.concurrency.streams import receive, send

Handler = Callable[..., Awaitable[Outcome]]
"""Takes a unit of work spread into its arguments: a job's fields, or a batch's jobs."""


STARTED_AT_ONCE = 100
"""Workers an on-demand pool starts with (or the window, if smaller): a window up to it
runs as a pool that starts every worker at once."""


@attrs.define(eq=False, repr=False)
class WorkerPool:
    """Keeps up to ``window`` workers pulling jobs, so at most ``window`` items (or
    batches) are in flight.

    With ``on_demand``, a window wider than :data:`STARTED_AT_ONCE` starts that many
    workers and one more whenever a worker takes a job and none is left waiting, up to
    the window: items that wait (for a model) so fill the window, while quick ones keep
    a hundred workers busy instead of thousands that each wait for the next job (the
    stream then hands every job to a waiting worker, one scheduler trip per item). A
    worker waiting to hand its result on counts as free: when results back up, more
    workers would only hold more items in flight.
    Otherwise, and whenever :meth:`resize` grows the window, the workers start at once.
    Shrinking lets surplus workers retire after their current item, so no item is ever
    interrupted.
    """

    handle: Handler
    window: int
    on_demand: bool = False
    _workers: int = 0
    _idle: int = 0
    """Workers not handling a job: waiting for one or to hand a result on, or started and
    not yet running."""
    _task_group: TaskGroup | None = None
    _jobs: MemoryObjectReceiveStream[Work] | None = None
    _results: MemoryObjectSendStream[Outcome] | None = None

    async def run(
        self,
        jobs: MemoryObjectReceiveStream[Work],
        results: MemoryObjectSendStream[Outcome],
    ) -> None:
        self._jobs, self._results = jobs, results
        async with jobs, results, anyio.create_task_group() as task_group:
            self._task_group = task_group
            self._start_workers(STARTED_AT_ONCE if self.on_demand else self.window)
        self._task_group = None

    def resize(self, window: int) -> None:
        self.window = max(1, window)
        self._start_workers(self.window)

    def _start_workers(self, up_to: int) -> None:
        """Start workers until there are ``up_to``, never more than the window."""
        while self._task_group is not None and self._workers < min(up_to, self.window):
            self._workers += 1
            self._idle += 1
            self._task_group.start_soon(self._work)

    async def _work(self) -> None:
        jobs, results = self._jobs, self._results
        assert jobs is not None
        assert results is not None
        idle = True
        try:
            while self._workers <= self.window:
                try:
                    job = await receive(jobs)
                except anyio.EndOfStream:
                    return
                idle = False
                self._idle -= 1
                if self.on_demand and not self._idle:
                    self._start_workers(self._workers + 1)  # the next job finds one waiting
                outcome = await self.handle(*job)
                idle = True  # waiting to hand its result on: more workers would only queue
                self._idle += 1
                await send(results, outcome)
        finally:
            self._workers -= 1
            if idle:
                self._idle -= 1
