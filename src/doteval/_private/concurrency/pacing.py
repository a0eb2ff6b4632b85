"""Smooth request pacing: a token bucket kept as one timestamp (GCRA)."""

from __future__ import annotations

import math

import anyio
import attrs


@attrs.define(repr=False)
class Pacer:
    """Admits ``burst`` requests at once, then one every ``interval`` seconds.

    In any span of T seconds it admits at most ``burst + T / interval`` requests.
    """

    interval: float
    burst: int = 1
    _theoretical_arrival: float = -math.inf

    def earliest(self, now: float) -> float:
        return max(now, self._theoretical_arrival - (self.burst - 1) * self.interval)

    def commit(self, at: float) -> None:
        self._theoretical_arrival = max(self._theoretical_arrival, at) + self.interval


@attrs.define(repr=False)
class PacingGate:
    """Holds each attempt until every pacer admits it; retries pay a token too."""

    pacers: tuple[Pacer, ...]
    _turn: anyio.Lock = attrs.field(factory=anyio.Lock)

    async def enter(self) -> None:
        # Attempts take their tokens one at a time (the lock is fair), each at the
        # moment it really proceeds: a wake-up that comes late under load pushes
        # the next attempts back, instead of letting them bunch up behind it.
        async with self._turn:
            now = anyio.current_time()
            at = max(pacer.earliest(now) for pacer in self.pacers)
            if at > now:
                await anyio.sleep(at - now)
                now = anyio.current_time()
            for pacer in self.pacers:
                pacer.commit(now)

    def exit(self, error: BaseException | None) -> None:
        """Pacing ignores outcomes."""
