"""Smooth request pacing: a token bucket kept as one timestamp (GCRA)."""

from __future__ import annotations

import math

import anyio
import anyio.lowlevel
import attrs


@attrs.define
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


@attrs.define
class PacingGate:
    """Holds each attempt until every pacer admits it; retries pay a token too."""

    pacers: tuple[Pacer, ...]

    async def enter(self) -> None:
        now = anyio.current_time()
        # Reserve a slot synchronously, before any await, so concurrent callers
        # queue up behind each other instead of racing for the same slot.
        at = max(pacer.earliest(now) for pacer in self.pacers)
        for pacer in self.pacers:
            pacer.commit(at)
        if at > now:
            await anyio.sleep(at - now)
        else:
            await anyio.lowlevel.checkpoint()

    def exit(self, error: BaseException | None) -> None:
        """Pacing ignores outcomes."""
