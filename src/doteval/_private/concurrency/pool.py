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


@attrs.define(eq=False)
class WorkerPool:
    """Keeps up to ``window`` workers pulling jobs, so at most ``window`` items (or
    batches) are in flight.

    Workers start as the work needs them: whenever the last idle worker takes a job,
    more start (as many as are working, at most up to the window, so a burst of slow
    items fills the window in a few scheduler passes), and one stays idle for the next
    job. Items that finish without waiting never need more than two, where a fixed
    pool of thousands would park every one of them on the stream at each hand-off.
    Shrinking the window lets surplus workers retire after their current item, so no
    item is ever interrupted.
    """

    handle: Handler
    window: int
    _workers: int = 0
    _idle: int = 0
    """Workers started and not holding a job: waiting for one, or not yet running."""
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
            self._start(1)
        self._task_group = None

    def resize(self, window: int) -> None:
        self.window = max(1, window)
        if self._idle == 0:
            self._start(1)

    def _start(self, count: int) -> None:
        count = min(count, self.window - self._workers)
        if self._task_group is None or count <= 0:
            return
        self._workers += count
        self._idle += count
        for _ in range(count):
            self._task_group.start_soon(self._work)

    def _took_the_last_idle(self, jobs: MemoryObjectReceiveStream[Work]) -> None:
        """More workers for what waits: as many as work now if jobs are queued (so the
        pool doubles at each scheduler pass), else one to wait for the next job."""
        waiting = jobs.statistics().current_buffer_used
        self._start(min(self._workers, waiting) if waiting else 1)

    async def _work(self) -> None:
        jobs, results = self._jobs, self._results
        assert jobs is not None
        assert results is not None
        try:
            while self._workers <= self.window:
                try:
                    job = await receive(jobs)
                except anyio.EndOfStream:
                    return
                self._idle -= 1
                if self._idle == 0 and self._workers < self.window:
                    self._took_the_last_idle(jobs)
                try:
                    outcome = await self.handle(*job)
                finally:
                    self._idle += 1
                await send(results, outcome)
        finally:
            self._idle -= 1
            self._workers -= 1
