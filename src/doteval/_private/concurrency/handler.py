"""What a strategy runs: jobs, the handler that turns one into a record, per-attempt gates.

Strategies only move jobs to records; what running an item means (binding,
retries, timeouts) is the run's business, behind :class:`ItemHandler`.
"""

from __future__ import annotations

from typing import Any, Protocol

from doteval._private.results.records import Record

Job = tuple[int, Any, int]
"""An item id (its position in the dataset), its raw row, and which epoch of it to run."""


class AttemptGate(Protocol):
    """Per-attempt admission and feedback, for strategies that pace or adapt."""

    async def enter(self) -> None: ...

    def exit(self, error: BaseException | None) -> None: ...


class ItemHandler(Protocol):
    """Runs one item to its record; never raises for anything the item did wrong."""

    async def __call__(self, item_id: int, row: Any, epoch: int = 0) -> Record: ...

    def gated(self, gate: AttemptGate) -> ItemHandler:
        """The same handler with every attempt passing through ``gate``."""
        ...
