"""Detects async evaluations that block the event loop."""

from __future__ import annotations

import warnings

import anyio
import attrs

from doteval._private.errors import BlockingEvaluationWarning


@attrs.define
class BlockingWatchdog:
    """Sleeps in short ticks and warns once when a tick comes back late.

    A late tick means something held the event loop; measuring the lag costs one
    wake-up per tick instead of timing every item.
    """

    evaluation: str
    threshold: float
    scope: anyio.CancelScope = attrs.field(factory=anyio.CancelScope)

    async def run(self) -> None:
        tick = self.threshold / 10
        with self.scope:
            while True:
                before = anyio.current_time()
                await anyio.sleep(tick)
                lag = anyio.current_time() - before - tick
                if lag >= self.threshold:
                    warnings.warn(
                        f"the event loop was blocked for {lag:.2f} s while "
                        f"{self.evaluation} was running: an async evaluation made a "
                        f"blocking call, which stalls every other item. Run blocking "
                        f"code with `await anyio.to_thread.run_sync(fn, *args)`, or "
                        f"write the evaluation as a plain `def` (doteval then runs "
                        f"it in worker threads)",
                        BlockingEvaluationWarning,
                        stacklevel=1,
                    )
                    return

    def stop(self) -> None:
        self.scope.cancel()
