"""Strategies users write themselves, to the ``execute(tasks, progress_callback)`` protocol.

doteval runs them in its engine through :class:`ProtocolStrategy`, which feeds
the strategy task factories and checks that it yields each result exactly once.
"""

from __future__ import annotations

import functools
import math
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Protocol, TypeVar, runtime_checkable

import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from doteval._private.concurrency.handler import ItemHandler, Outcome, Work, is_outcome

T = TypeVar("T")


@runtime_checkable
class AsyncConcurrencyStrategy(Protocol):
    """What a user-written strategy provides: run zero-argument task factories.

    ``execute`` receives an async iterator of callables, each returning an awaitable
    of one item's result, and yields the results in any order.
    """

    def execute(
        self,
        tasks: AsyncIterator[Callable[[], Awaitable[T]]],
        progress_callback: Callable[[T], None] | None = None,
    ) -> AsyncIterator[T]: ...


@attrs.frozen(repr=False)
class ProtocolStrategy:
    """Adapts a user-written ``execute(tasks, progress_callback)`` strategy."""

    strategy: AsyncConcurrencyStrategy
    window_limit: float = math.inf

    async def run(
        self,
        jobs: MemoryObjectReceiveStream[Work],
        results: MemoryObjectSendStream[Outcome],
        runner: ItemHandler,
    ) -> None:
        handed_out = yielded = 0
        exhausted = False

        async def tasks() -> AsyncGenerator[Callable[[], Awaitable[Outcome]], None]:
            nonlocal handed_out, exhausted
            async for job in jobs:
                handed_out += 1
                yield functools.partial(runner, *job)
            exhausted = True

        source = tasks()
        outcomes = self.strategy.execute(source, progress_callback=None)
        name = type(self.strategy).__name__
        async with jobs, results:
            try:
                async for outcome in outcomes:
                    if not is_outcome(outcome):
                        raise TypeError(
                            f"{name}.execute yielded {type(outcome).__name__}; it must "
                            f"yield what awaiting each task returned"
                        )
                    yielded += 1
                    await results.send(outcome)
                # Items must never vanish silently, even through a buggy strategy.
                if not exhausted or yielded != handed_out:
                    raise RuntimeError(
                        f"{name}.execute stopped after yielding {yielded} results for "
                        f"{handed_out} tasks{'' if exhausted else ' with tasks left'}; it "
                        f"must run every task it is given and yield each result once"
                    )
            finally:
                close = getattr(outcomes, "aclose", None)
                if close is not None:
                    await close()
                await source.aclose()
