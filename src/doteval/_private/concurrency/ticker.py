"""Tasks that tick beside a run's workers until its consumer has taken the last record."""

from __future__ import annotations

import abc

import anyio
import attrs


@attrs.define(repr=False)
class Ticker(abc.ABC):
    """A task of the run's task group that loops in :meth:`tick` until :meth:`stop`: the
    engine starts every ticker with the run and stops them all once it is done."""

    scope: anyio.CancelScope = attrs.field(factory=anyio.CancelScope, kw_only=True)

    async def run(self) -> None:
        with self.scope:
            await self.tick()

    @abc.abstractmethod
    async def tick(self) -> None:
        """Loop until cancelled (or return early, when there is nothing more to do)."""

    def stop(self) -> None:
        self.scope.cancel()
