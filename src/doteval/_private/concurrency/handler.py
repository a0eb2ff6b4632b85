"""What a strategy runs: jobs, the handler that turns one into a record, per-attempt gates.

Strategies only move units of work (a job, or a batch of jobs) to their records;
what running them means (binding, retries, timeouts) is the run's business, behind
:class:`ItemHandler`.
"""

from __future__ import annotations

from typing import Any, Protocol

from doteval._private.results.records import Record

Job = tuple[int, Any, int]
"""An item id (its position in the dataset), its raw row, and which epoch of it to run."""

JobBatch = tuple[Job, ...]
"""The jobs one call of a ``@batch`` evaluation runs: a batch run's unit of work, which
the window admits, retries and times out as a whole."""

Work = Job | JobBatch
"""What a strategy hands its handler, spread into the handler's arguments."""

Outcome = Record | tuple[Record, ...]
"""What a unit of work ends in: a job's record, or one record per job of a batch."""


def is_outcome(value: Any) -> bool:
    """Whether ``value`` is what a handler returns (a strategy's own code may mix them up)."""
    return isinstance(value, Record) or (
        isinstance(value, tuple) and all(isinstance(record, Record) for record in value)
    )


class AttemptGate(Protocol):
    """Per-attempt admission and feedback, for strategies that pace or adapt."""

    async def enter(self) -> None: ...

    def exit(self, error: BaseException | None) -> None: ...


class ItemHandler(Protocol):
    """Runs one unit of work to its records; never raises for anything an item did wrong.

    It takes the fields of a :data:`Job`, or the jobs of a :data:`JobBatch`, as arguments.
    """

    async def __call__(self, *work: Any) -> Outcome: ...

    def gated(self, gate: AttemptGate) -> ItemHandler:
        """The same handler with every attempt passing through ``gate``."""
        ...
