"""A concurrency window that finds how much a server takes, and follows it as that changes."""

from __future__ import annotations

import math
from collections.abc import Callable
from contextvars import ContextVar

import anyio
import attrs

from doteval._private.concurrency.handler import ItemHandler
from doteval._private.concurrency.pool import WorkerPool
from doteval._private.concurrency.strategies import COUNT, BuiltinStrategy
from doteval._private.retry.transient import is_overload, retry_after
from doteval._private.validators import number

PLATEAU = 1.5
"""Growing this much past the best window without beating its throughput is a plateau."""

GAIN = 1.1
"""A round's throughput must beat the best by this much to count as better, not noise."""

PLATEAU_HOLD_ROUNDS = 8
"""Rounds the window stays at its best size after a plateau before probing again."""

# Which decrease an attempt started after, and how many attempts were under way with
# it; set by enter() in the worker task that then calls exit(), so concurrent attempts
# never see each other's.
_attempt_started: ContextVar[tuple[int, int]] = ContextVar("doteval_adaptive_attempt")
# Whether the last attempt of this worker task was turned away: its retry comes next.
_turned_away: ContextVar[bool] = ContextVar("doteval_adaptive_turned_away", default=False)


@attrs.frozen
class AdaptiveStrategy(BuiltinStrategy):
    """A window that grows while throughput improves and shrinks when the server pushes back.

    It starts at ``initial`` items and doubles every round trip (slow start) until
    the first sign of overload or a throughput plateau, then grows by one item per
    round trip while throughput keeps improving and no errors arrive. An HTTP 429,
    503 or 529, or a timeout, multiplies it by ``backoff`` (once per round trip,
    however many attempts fail together, and from no more than the attempts under
    way when the rejected one started), and a ``Retry-After`` stops it growing until
    that time has passed. It stays within ``[min, max]``; ``max_concurrency=`` sets
    ``max``. Each attempt, retries included, needs a place in the window.

    ``on_resize(seconds_since_start, window)`` is called at every change of the
    window, e.g. to record a trace.
    """

    initial: int = attrs.field(default=8, validator=COUNT)
    min: int = attrs.field(default=1, validator=COUNT)
    max: int = attrs.field(default=100, validator=COUNT)
    backoff: float = attrs.field(default=0.9, validator=number(above=0, below=1))
    on_resize: Callable[[float, int], None] | None = attrs.field(
        default=None, kw_only=True, eq=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        if not self.min <= self.initial <= self.max:
            raise ValueError(
                f"AdaptiveStrategy needs min <= initial <= max, got min={self.min}, "
                f"initial={self.initial}, max={self.max}"
            )

    @property
    def max_concurrency(self) -> int:  # type: ignore[override]  # read-only: see resized()
        """The window's upper bound, ``max``: what ``max_concurrency=`` sets."""
        return self.max

    @property
    def window_limit(self) -> float:
        return self.max

    def resized(self, max_concurrency: int) -> BuiltinStrategy:
        return attrs.evolve(
            self,
            max=max_concurrency,
            initial=min(self.initial, max_concurrency),
            min=min(self.min, max_concurrency),
        )

    def _pool(self, runner: ItemHandler) -> WorkerPool:
        window = AdaptiveWindow(self, anyio.current_time())
        pool = WorkerPool(runner.gated(window), self.initial)
        window.resize_pool = pool.resize
        return pool


@attrs.define(eq=False, repr=False)
class AdaptiveWindow:
    """One run's window: admits each attempt and learns from how it ended (an AttemptGate).

    Rounds of about one round trip (as many successes as the window) measure
    throughput. A decrease bumps ``epoch`` and counts the attempts still under way
    as ``stale``: until they have all ended, the server has not yet felt the
    decrease, so the window neither grows nor shrinks again.
    """

    strategy: AdaptiveStrategy
    started: float
    resize_pool: Callable[[int], None] | None = None
    size: float = attrs.field(init=False)
    limit: int = attrs.field(init=False)
    in_flight: int = 0
    epoch: int = 0
    stale: int = 0
    slow_start: bool = True
    hold_until: float = -math.inf
    round_started: float = attrs.field(init=False)
    round_target: int = attrs.field(init=False)
    round_successes: int = 0
    round_full: bool = False
    last_round_full: bool = False
    best_rate: float = 0.0
    best_size: float = 0.0
    plateau_rounds: int = 0
    _slot_freed: anyio.Event | None = None

    def __attrs_post_init__(self) -> None:
        self.size = float(self.strategy.initial)
        self.limit = self.strategy.initial
        self.round_started = self.started
        self.round_target = self.limit
        self._announce(self.started)

    async def enter(self) -> None:
        # A retry after an overload also waits until the server has felt the decrease
        # (the stale attempts have ended), or it would likely be turned away again.
        while self.in_flight >= self.limit or (self.stale and _turned_away.get()):
            if self._slot_freed is None:
                self._slot_freed = anyio.Event()
            await self._slot_freed.wait()
        self.in_flight += 1
        if self.in_flight >= self.limit:
            self.round_full = True
        _attempt_started.set((self.epoch, self.in_flight))

    def exit(self, error: BaseException | None) -> None:
        self.in_flight -= 1
        epoch, concurrency = _attempt_started.get()
        if epoch != self.epoch:
            self.stale -= 1
        now = anyio.current_time()
        overload = error if isinstance(error, Exception) and is_overload(error) else None
        _turned_away.set(overload is not None)
        if error is None:
            self._succeeded(now)
        elif overload is not None:
            self._overloaded(overload, epoch, concurrency, now)
        if self._slot_freed is not None and self.in_flight < self.limit:
            self._slot_freed.set()
            self._slot_freed = None

    def _succeeded(self, now: float) -> None:
        self.round_successes += 1
        if self.round_successes >= self.round_target:
            self._end_round(now)
        # Growing only helps when the window is what limits the run (it filled up
        # lately); it waits while attempts from before a decrease are still out (their
        # outcome is old news), while the server has asked us to wait, and while a
        # plateau is being held.
        full = self.round_full or self.last_round_full
        if not full or self.stale or now < self.hold_until or self.plateau_rounds:
            return
        self._resize(self.size + (1 if self.slow_start else 1 / self.size), now)

    def _end_round(self, now: float) -> None:
        rate = self.round_successes / max(now - self.round_started, 1e-9)
        if self.plateau_rounds:
            self.plateau_rounds -= 1
            if not self.plateau_rounds:  # probe afresh: the server may have changed
                self.best_rate = 0.0
        elif rate > self.best_rate * GAIN:
            self.best_rate, self.best_size = rate, self.round_target
        elif self.size >= self.best_size * PLATEAU + 1:
            # Much more concurrency bought no more throughput: go back to where the
            # best throughput was measured and stay there for a while.
            self.slow_start = False
            self.plateau_rounds = PLATEAU_HOLD_ROUNDS
            self._resize(self.best_size, now)
        self.round_started = now
        self.round_target = self.limit
        self.round_successes = 0
        self.last_round_full, self.round_full = self.round_full, False

    def _overloaded(self, error: Exception, epoch: int, concurrency: int, now: float) -> None:
        wait = retry_after(error)
        if wait is not None:
            self.hold_until = max(self.hold_until, now + wait)
        # The server turned away an attempt that started with `concurrency` attempts
        # under way, so the window should be below that, whatever else happens. (Slow
        # start may have doubled the window past it by the time the complaint came.)
        bound = concurrency * self.strategy.backoff
        if epoch != self.epoch or self.stale:
            # Attempts from before the last decrease are still out: the server has not
            # felt that decrease yet, so this complaint calls for no further one.
            if bound < self.size:
                self._resize(bound, now)
            return
        self.epoch += 1
        self.stale = self.in_flight
        self.slow_start = False
        self.best_rate = 0.0
        self._resize(min(self.size * self.strategy.backoff, bound), now)

    def _resize(self, size: float, now: float) -> None:
        self.size = min(max(size, self.strategy.min), self.strategy.max)
        limit = int(self.size)
        if limit == self.limit:
            return
        self.limit = limit
        if self.resize_pool is not None:
            self.resize_pool(limit)
        self._announce(now)

    def _announce(self, now: float) -> None:
        if self.strategy.on_resize is not None:
            self.strategy.on_resize(now - self.started, self.limit)
