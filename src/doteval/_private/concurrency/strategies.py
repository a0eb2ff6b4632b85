"""Concurrency strategies: attrs classes that move jobs to results through channels."""

from __future__ import annotations

from typing import Any, TypeVar

import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from doteval._private.concurrency.handler import ItemHandler, Outcome, Work
from doteval._private.concurrency.pacing import Pacer, PacingGate
from doteval._private.concurrency.pool import WorkerPool
from doteval._private.concurrency.user_strategy import AsyncConcurrencyStrategy, ProtocolStrategy
from doteval._private.protocols import provides
from doteval._private.validators import number

T = TypeVar("T")


COUNT = number(at_least=1, whole=True)
"""How many items or requests: a whole number, at least one."""


class BuiltinStrategy:
    """Base of doteval's own strategies, which the engine may resize and inspect."""

    max_concurrency: int

    @property
    def window_limit(self) -> float:
        """The most items this strategy may ever run at once."""
        return self.max_concurrency

    def resized(self, max_concurrency: int) -> BuiltinStrategy:
        return attrs.evolve(self, max_concurrency=max_concurrency)  # type: ignore[misc]

    def _pool(self, runner: ItemHandler) -> WorkerPool:
        return WorkerPool(runner, self.max_concurrency, on_demand=True)

    async def run(
        self,
        jobs: MemoryObjectReceiveStream[Work],
        results: MemoryObjectSendStream[Outcome],
        runner: ItemHandler,
    ) -> None:
        await self._pool(runner).run(jobs, results)


@attrs.frozen
class SlidingWindowStrategy(BuiltinStrategy):
    """Keeps ``max_concurrency`` items in flight, starting one as each finishes."""

    max_concurrency: int = attrs.field(default=10, validator=COUNT)


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

    max_concurrency: int = attrs.field(validator=COUNT)
    requests_per_second: float | None = attrs.field(default=None, validator=number(above=0))
    requests_per_minute: float | None = attrs.field(
        default=None, kw_only=True, validator=number(above=0)
    )
    burst: int = attrs.field(default=1, kw_only=True, validator=COUNT)

    def __attrs_post_init__(self) -> None:
        if self.requests_per_second is None and self.requests_per_minute is None:
            raise ValueError("RateLimitedStrategy needs requests_per_second or requests_per_minute")

    def _pool(self, runner: ItemHandler) -> WorkerPool:
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
    if not provides(concurrency, AsyncConcurrencyStrategy):
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
