"""What a run is given: the plan resolved from the options, and the hooks that follow it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, Protocol

import attrs

from doteval._private.concurrency.handler import ItemHandler
from doteval._private.concurrency.strategies import Strategy
from doteval._private.persist.hook import StoreTarget
from doteval._private.results.records import Record
from doteval._private.run.batch import BatchRunner
from doteval._private.run.item import ItemRunner
from doteval._private.scoring.reducers import Reducer, mean


class RunHook(Protocol):
    """Something that follows a run: storage, progress display.

    It is entered before the first item starts and exited after the last record
    (or the error or cancellation that ended the run); ``record`` is called by the
    run's single consumer for every record, so it must not block.
    """

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc_info: Any) -> bool | None: ...

    def record(self, record: Record) -> None: ...


@attrs.frozen
class Sampling:
    """How the run samples and summarises: each item ``epochs`` times, the epochs combined
    by ``reducers``, standard errors clustered by the ``cluster`` column."""

    epochs: int = 1
    reducers: tuple[Reducer, ...] = (mean,)
    cluster: str | None = None


@attrs.frozen
class RunPlan:
    """Everything a run needs, resolved from the options."""

    evaluation: str
    rows: Iterable[Any] | AsyncIterator[Any]
    runner: ItemRunner
    strategy: Strategy
    samples: int | None
    keep_records: bool
    blocking_threshold: float | None
    store: StoreTarget
    """Where the run is persisted and resumed from (``memory://`` keeps it in the process)."""
    hooks: Sequence[RunHook] = ()
    sampling: Sampling = Sampling()
    batch_size: int | None = None
    """``@batch``: the items of one call, the unit of work; ``None`` runs items one by one."""

    @property
    def handler(self) -> ItemHandler:
        """What the strategy runs each unit of work with."""
        return self.runner if self.batch_size is None else BatchRunner(self.runner)
