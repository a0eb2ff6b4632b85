"""Concurrency strategies: attrs classes that move jobs to results through channels."""

from __future__ import annotations

import functools
import math
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from doteval._private.item import ItemRunner, Job
from doteval._private.pacing import Pacer, PacingGate
from doteval._private.pool import WorkerPool
from doteval._private.records import Record

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


def _at_least_one(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not value >= 1):
        raise ValueError(
            f"{type(instance).__name__}.{attribute.name} must be at least 1, got {value!r}"
        )


class BuiltinStrategy:
    """Base of doteval's own strategies, which the engine may resize and inspect."""

    max_concurrency: int

    @property
    def window_limit(self) -> float:
        """The most items this strategy may ever run at once."""
        return self.max_concurrency

    def resized(self, max_concurrency: int) -> BuiltinStrategy:
        return attrs.evolve(self, max_concurrency=max_concurrency)  # type: ignore[misc]

    def _pool(self, runner: ItemRunner) -> WorkerPool:
        return WorkerPool(runner, self.max_concurrency)

    async def run(
        self,
        jobs: MemoryObjectReceiveStream[Job],
        results: MemoryObjectSendStream[Record],
        runner: ItemRunner,
    ) -> None:
        await self._pool(runner).run(jobs, results)


@attrs.frozen
class SlidingWindowStrategy(BuiltinStrategy):
    """Keeps ``max_concurrency`` items in flight, starting one as each finishes."""

    max_concurrency: int = attrs.field(default=10, validator=_at_least_one)


@attrs.frozen
class SequentialStrategy(BuiltinStrategy):
    """One item at a time; the default for synchronous evaluation functions."""

    max_concurrency: int = attrs.field(default=1, init=False)

    def resized(self, max_concurrency: int) -> BuiltinStrategy:
        return SlidingWindowStrategy(max_concurrency)


PACING_MARGIN = 1.01
"""Requests are spaced 1 % wider than the rate allows, so that the few milliseconds of
jitter between a request's start and its arrival cannot put more than the limit into
one period at the server (10 ms of slack in every second)."""


@attrs.frozen
class RateLimitedStrategy(BuiltinStrategy):
    """A sliding window whose attempts, retries included, are paced by a token bucket.

    ``burst`` requests may start together; after that they are spread evenly.
    """

    max_concurrency: int = attrs.field(validator=_at_least_one)
    requests_per_second: float | None = None
    requests_per_minute: float | None = attrs.field(default=None, kw_only=True)
    burst: int = attrs.field(default=1, kw_only=True, validator=_at_least_one)

    def __attrs_post_init__(self) -> None:
        for name in ("requests_per_second", "requests_per_minute"):
            rate = getattr(self, name)
            if rate is not None and (isinstance(rate, bool) or not rate > 0):
                raise ValueError(f"RateLimitedStrategy.{name} must be above 0, got {rate!r}")
        if self.requests_per_second is None and self.requests_per_minute is None:
            raise ValueError("RateLimitedStrategy needs requests_per_second or requests_per_minute")

    def _pool(self, runner: ItemRunner) -> WorkerPool:
        rates = (
            (self.requests_per_second, 1.0),
            (self.requests_per_minute, 60.0),
        )
        pacers = tuple(
            Pacer(period / rate * PACING_MARGIN, self.burst)
            for rate, period in rates
            if rate is not None
        )
        return WorkerPool(runner.gated(PacingGate(pacers)), self.max_concurrency)


@attrs.frozen
class ProtocolStrategy:
    """Adapts a user-written ``execute(tasks, progress_callback)`` strategy."""

    strategy: AsyncConcurrencyStrategy
    window_limit: float = math.inf

    async def run(
        self,
        jobs: MemoryObjectReceiveStream[Job],
        results: MemoryObjectSendStream[Record],
        runner: ItemRunner,
    ) -> None:
        handed_out = yielded = 0
        exhausted = False

        async def tasks() -> AsyncGenerator[Callable[[], Awaitable[Record]], None]:
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
                async for record in outcomes:
                    if not isinstance(record, Record):
                        raise TypeError(
                            f"{name}.execute yielded {type(record).__name__}; it must "
                            f"yield what awaiting each task returned"
                        )
                    yielded += 1
                    await results.send(record)
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


Strategy = BuiltinStrategy | ProtocolStrategy


def resolve_strategy(
    concurrency: Any, max_concurrency: int | None, is_async: bool, evaluation: str
) -> Strategy:
    """The strategy a run uses, after ``max_concurrency=`` resizes a built-in one."""
    if concurrency is None:
        concurrency = SlidingWindowStrategy() if is_async else SequentialStrategy()
    if isinstance(concurrency, BuiltinStrategy):
        if max_concurrency is None:
            return concurrency
        return concurrency.resized(max_concurrency)
    if not isinstance(concurrency, AsyncConcurrencyStrategy):
        raise TypeError(
            f"concurrency= for {evaluation} must be a doteval.concurrency strategy or "
            f"an object with an `execute(tasks, progress_callback=None)` async "
            f"iterator method; got {concurrency!r}"
        )
    if max_concurrency is not None:
        raise ValueError(
            f"max_concurrency={max_concurrency} cannot resize "
            f"{type(concurrency).__name__}, a user-written strategy: doteval only "
            f"knows how to resize its own. Set the concurrency on your strategy "
            f"instead, or drop max_concurrency="
        )
    return ProtocolStrategy(concurrency)
