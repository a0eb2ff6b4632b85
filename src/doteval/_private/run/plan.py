"""What a run is given: the plan resolved from the options, and the hooks that follow it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, Protocol

import attrs

from doteval._private.concurrency.handler import ItemHandler
from doteval._private.concurrency.strategies import Strategy
from doteval._private.persist.hook import StoreTarget
from doteval._private.results.records import EvaluationResult, Record
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


@attrs.frozen(repr=False)
class RunEnd:
    """How a run ended, for the report a user reads when it does."""

    evaluation: str
    experiment: str
    storage: str
    """The store's URL, any password masked."""
    status: str | None
    """As stored (``None``: the store was left as it was, e.g. the dataset changed)."""
    stored: int
    """Records the store holds for the evaluation (item-epochs), this run's included."""
    result: EvaluationResult | None
    """What the run returns; ``None`` when it raised."""
    error: BaseException | None = None


class Reporter(Protocol):
    """Tells the user what a run did at the moments that matter: it resumed, it ended."""

    def resumed(self, stored: int) -> None:
        """The run found ``stored`` successes stored, which it will not run again."""

    def ended(self, end: RunEnd) -> None:
        """The run is over and the store closed; must not raise."""


@attrs.frozen(repr=False)
class Sampling:
    """How the run samples and summarises: each item ``epochs`` times, the epochs combined
    by ``reducers``, standard errors clustered by the ``cluster`` column."""

    epochs: int = 1
    reducers: tuple[Reducer, ...] = (mean,)
    cluster: str | None = None


@attrs.frozen(repr=False)
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
    aliases: tuple[str, ...] = ()
    """Names the evaluation may be stored under already (by an earlier doteval): a run
    resumes the stored one under its stored name."""
    stop_after_errors: int = 0
    """Stop when the first this many records all fail alike and none succeeded (0: never)."""
    reporter: Reporter | None = None
    batch_size: int | None = None
    """``@batch``: the items of one call, the unit of work; ``None`` runs items one by one."""

    @property
    def handler(self) -> ItemHandler:
        """What the strategy runs each unit of work with."""
        if self.batch_size is None:
            return self.runner
        from doteval._private.run.batch import BatchRunner  # deferred: only @batch needs it

        return BatchRunner(self.runner)
