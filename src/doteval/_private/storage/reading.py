"""Reading stored results back: ``doteval.load``, ``doteval.experiments``, lazy records."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import overload

import attrs

from doteval._private.errors import StorageError
from doteval._private.results.aggregate import Aggregator
from doteval._private.results.records import EvaluationResult, Record
from doteval._private.scoring.reducers import resolve_reducers
from doteval._private.storage.policy import Store, find_evaluation
from doteval._private.storage.protocol import EvaluationInfo, ExperimentInfo, Storage
from doteval._private.storage.registry import open_storage
from doteval._private.storage.shard import Shard
from doteval._private.storage.status import COMPLETED, PARTIAL, RUNNING


@attrs.define(eq=False, repr=False)
class StoredRecords(Sequence[Record]):
    """A run's records, read from the store when iterated instead of kept in memory.

    ``contiguous`` means item ``i`` is at index ``i`` (true for a finished run). A
    shard's run has the records of its share only.
    """

    storage: Store
    experiment: str
    evaluation: str
    length: int
    stop: int | None = None
    contiguous: bool = True
    shard: Shard | None = None

    def __iter__(self) -> Iterator[Record]:
        return counted(
            self.storage, self.experiment, self.evaluation, self.length, self._read(0, self.stop)
        )

    def _read(self, start: int, stop: int | None) -> Iterator[Record]:
        records = self.storage.records(self.experiment, self.evaluation, start=start, stop=stop)
        shard = self.shard
        try:
            if shard is None:
                yield from records
            else:
                yield from (record for record in records if shard.holds(record.item_id))
        finally:
            close = getattr(records, "close", None)
            if close is not None:
                close()

    def __len__(self) -> int:
        return self.length

    @overload
    def __getitem__(self, index: int) -> Record: ...

    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...

    def __getitem__(self, index: int | slice) -> Record | list[Record]:
        if isinstance(index, slice):
            return list(itertools.islice(self, *index.indices(self.length)))
        position = index + self.length if index < 0 else index
        if not 0 <= position < self.length:
            raise IndexError(f"record index {index} out of range for {self.length} records")
        if self.contiguous and self.shard is None:
            found = next(self._read(position, position + 1), None)
            if found is not None and found.item_id == position:
                return found
        return next(itertools.islice(self, position, None))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple, StoredRecords)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        share = "" if self.shard is None else f" (shard {self.shard})"
        return (
            f"<{self.length} records of {self.evaluation}{share} in experiment "
            f"{self.experiment!r} ({self.storage.url})>"
        )


def missing_records(
    store: Store, experiment: str, evaluation: str, expected: int, read: int
) -> StorageError:
    """Reading stopped short of what the store counts: say so, never return less quietly."""
    return StorageError(
        f"{store.url}: {evaluation} of experiment {experiment!r} lost records: the store "
        f"counts {expected:,} but holds {read:,}. Run `doteval check "
        f"--storage {store.url}` to see what is intact; running the experiment again (same "
        f"experiment=) recomputes the missing items, or restore the store from a backup"
    )


def counted(
    store: Store, experiment: str, evaluation: str, expected: int, records: Iterator[Record]
) -> Iterator[Record]:
    """``records``, but an error, never fewer, when the store holds fewer than ``expected``:
    said before the first record when the store can count cheaply, else at the end."""
    if store.counts_cheaply:
        held = store.count(experiment, evaluation)
        if held < expected:
            raise missing_records(store, experiment, evaluation, expected, held)
    read = 0
    for record in records:
        read += 1
        yield record
    if read < expected:
        raise missing_records(store, experiment, evaluation, expected, read)


def all_records(store: Store, info: EvaluationInfo) -> Iterator[Record]:
    """Every stored record of an evaluation, checked against the count the store keeps."""
    expected = 0 if info.counts is None else info.counts.total
    return counted(
        store, info.experiment, info.name, expected, store.records(info.experiment, info.name)
    )


def experiments(storage: str | Storage | Store | None = None) -> list[ExperimentInfo]:
    """Every experiment in ``storage`` (default: the default store) with its evaluations,
    newest first."""
    return open_storage(storage).experiments()


def aggregator_for(info: EvaluationInfo) -> Aggregator:
    """An aggregator that summarises the evaluation's records as its run did: the same
    epochs, reducers (those known by name) and cluster column, from its stored options."""
    options = info.metadata.get("options") or {}
    names = [name for name in options.get("reducers") or () if isinstance(name, str)]
    try:
        reducers = resolve_reducers(names or None)
    except (TypeError, ValueError):  # a function of the user's: not known by name here
        reducers = resolve_reducers(None)
    epochs = options.get("epochs")
    return Aggregator(
        cluster=options.get("cluster") if isinstance(options.get("cluster"), str) else None,
        epochs=epochs if isinstance(epochs, int) and epochs > 0 else 1,
        reducers=reducers,
    )


def load(
    experiment: str,
    evaluation: str | None = None,
    storage: str | Storage | Store | None = None,
) -> EvaluationResult:
    """The stored result of one evaluation of ``experiment``, as a run returns it.

    With ``evaluation=None`` the experiment must hold exactly one evaluation. Records
    are read from the store lazily, when ``result.records`` is iterated.
    """
    store = open_storage(storage)
    info = find_evaluation(store.experiment(experiment), evaluation)
    summary, counts, estimates = info.summary, info.counts, info.estimates
    # A run that ended (even by an error or Ctrl-C) stored totals matching its records and
    # gave up its lease; a killed one's lease is left behind, with the totals of before.
    # An evaluation run in shards has the totals of them all only once it is settled.
    finished = (
        info.status != RUNNING
        and info.holder is None
        and (not info.shards or info.status in (COMPLETED, PARTIAL))
        and summary is not None
        and counts is not None
    )
    if not finished or estimates is None:  # killed, or a store that keeps no estimates
        aggregator = aggregator_for(info)
        for record in store.records(info.experiment, info.name):
            aggregator.add(record)
        estimates = aggregator.estimates
        if not finished:  # total up what the store holds
            summary, counts = aggregator.summary, aggregator.counts
    assert summary is not None
    assert counts is not None
    started = info.started_at or 0.0
    return EvaluationResult(
        evaluation=info.name,
        summary=summary,
        counts=counts,
        records=StoredRecords(
            store,
            info.experiment,
            info.name,
            counts.total,
            contiguous=finished and (info.metadata.get("options") or {}).get("epochs", 1) == 1,
        ),
        wall_time=max(0.0, (info.ended_at or started) - started),
        started_at=started,
        experiment=info.experiment,
        storage=store.url,
        estimates=estimates,
        epochs=aggregator_for(info).epochs,
        status=info.status,
    )
