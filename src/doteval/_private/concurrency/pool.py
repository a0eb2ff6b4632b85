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
    """Keeps ``window`` workers pulling jobs, so at most ``window`` items (or batches) are
    in flight.

    Growing the window starts workers at once; shrinking lets surplus workers
    retire after their current item, so no item is ever interrupted.
    """

    handle: Handler
    window: int
    _workers: int = 0
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
            self.resize(self.window)
        self._task_group = None

    def resize(self, window: int) -> None:
        self.window = max(1, window)
        while self._task_group is not None and self._workers < self.window:
            self._workers += 1
            self._task_group.start_soon(self._work)

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
                await send(results, await self.handle(*job))
        finally:
            self._workers -= 1
