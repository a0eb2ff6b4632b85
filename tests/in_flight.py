"""A probe that measures how many evaluations run at once, with events rather than sleeps."""

from __future__ import annotations

import anyio


class InFlight:
    """Counts evaluations running at once; ``full`` opens once ``target`` run together."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.now = 0
        self.peak = 0
        self.full = anyio.Event()

    async def visit(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)
        if self.now >= self.target:
            self.full.set()
        try:
            await self.full.wait()
        finally:
            self.now -= 1
