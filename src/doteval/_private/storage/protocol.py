"""What a storage backend implements: a plain store of experiments, evaluations and records.

A backend knows nothing of doteval's rules: which names are valid, when a lease
is stale, what a status means, how an error reads. Those live once, in
:mod:`~doteval._private.storage.policy`, which wraps every backend. A backend
does the atomic steps the rules need: it reads a holder and calls ``admit`` in
the same transaction as it writes, and its writers call
:func:`~doteval._private.storage.policy.verify_holder` before each write.

Optional capabilities: a backend may implement the protocols below
``Storage`` (for instance :class:`PagedRecords`); the policy layer uses such a
method when the backend has it and falls back on the core methods otherwise, so
a backend written against the core protocol keeps working as capabilities are
added.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from doteval._private.results.records import Counts, Record
from doteval._private.stats.estimate import Estimate
from doteval._private.storage.lease import Lease
from doteval._private.storage.shard import Shard

StoredItem = tuple[int, int, bool] | tuple[int, int, bool, int]
"""An item id, the hash of its row, whether it succeeded, and (for a backend whose
``stores_epochs`` is true) its epoch: entries come by item, then epoch."""

Admit = Callable[[str, "Lease | None"], None]
"""``admit(evaluation, holder)``: called by a backend, inside the atomic step that takes
or removes an evaluation, with the lease stored for it; raises to refuse."""


@attrs.frozen
class ShardInfo:
    """One shard's run of an evaluation, as the store keeps it (see :class:`ShardedRuns`)."""

    shard: Shard
    status: str
    started_at: float | None = None
    ended_at: float | None = None
    counts: Counts | None = None
    """What the shard's last run stored of its share (including what it resumed)."""
    holder: Lease | None = None
    expected: int | None = None
    """The item-epochs of the whole evaluation, once a run of this shard read the dataset
    to its end: the evaluation is complete when that many are stored."""


@attrs.frozen
class EvaluationInfo:
    """What a store knows about one evaluation of one experiment."""

    experiment: str
    name: str
    status: str
    started_at: float | None = None
    ended_at: float | None = None
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    counts: Counts | None = None
    summary: Mapping[str, Mapping[str, Any]] | None = None
    holder: Lease | None = None
    estimates: Mapping[str, Mapping[str, Estimate | None]] | None = None
    """Each metric's value with its uncertainty, if the store keeps them (see
    ``Writer.keeps_estimates``); else ``doteval.load`` computes them from the records."""
    shards: tuple[ShardInfo, ...] = ()
    """The shards that ran, by count and index (empty unless it ran in shards)."""

    @property
    def shard_count(self) -> int | None:
        """How many shards its latest shard run was one of (``None``: not run in shards)."""
        if not self.shards:
            return None
        return max(self.shards, key=lambda found: found.started_at or 0.0).shard.count

    @property
    def shards_not_run(self) -> tuple[Shard, ...]:
        """The shards of that count that never ran."""
        count = self.shard_count
        if count is None:
            return ()
        ran = {found.shard.index for found in self.shards if found.shard.count == count}
        return tuple(Shard(index, count) for index in range(count) if index not in ran)


@attrs.frozen
class ExperimentInfo:
    """An experiment and its evaluations."""

    name: str
    created_at: float
    evaluations: tuple[EvaluationInfo, ...] = ()


class StoredState(Protocol):
    """What a store already holds for an evaluation being resumed."""

    @property
    def previous(self) -> str | None:
        """The evaluation's status before this run took it over (``None``: it is new)."""
        ...

    @property
    def extent(self) -> int:
        """One more than the highest stored item id (0 when nothing is stored)."""
        ...

    @property
    def seed(self) -> Mapping[str, Any] | None:
        """A snapshot of the totals over every stored successful item, if the store keeps
        one (then resuming need not read the records back)."""
        ...

    def fetch(self, start: int, stop: int | None, count: int) -> Sequence[StoredItem]:
        """Up to ``count`` stored entries with ``start <= id < stop``, by item and epoch."""
        ...


class Writer(Protocol):
    """Writes one run's records; used from one thread at a time, never the event loop's."""

    keeps_seed: bool
    """Whether ``write`` stores the ``seed`` snapshot (then resuming need not re-read records)."""

    # Optional: ``keeps_estimates = True`` and ``finish(..., estimates=...)`` store each
    # metric's estimate (``estimates_to_json`` gives the JSON form) for ``EvaluationInfo``.
    # Optional: ``drop_records()``, called before the first write of a run with
    # ``keep_records=False``, lets a store that keeps records in memory keep only what
    # resuming needs; reading its records then raises ``StorageError``.

    def write(
        self,
        batch: Sequence[tuple[Record, int]],
        counts: Counts,
        seed: Mapping[str, Any] | None,
    ) -> str | None:
        """Store ``(record, row hash)`` pairs atomically; a later record of an item replaces
        the earlier one. Returns a description of the first value stored as its ``repr``.
        Calls ``verify_holder`` first, in the same transaction."""
        ...

    def heartbeat(self) -> None: ...

    def finish(
        self,
        status: str,
        counts: Counts,
        summary: Mapping[str, Mapping[str, Any]] | None,
    ) -> None:
        """Record how the run ended and release the lease."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Storage(Protocol):
    """A storage backend; ``doteval.storage.open_storage`` picks one by URL scheme.

    Unknown experiments or evaluations raise ``UnknownNameError``; a ``rename``
    onto an existing name raises ``ExperimentExistsError``. A backend that keeps one
    record per ``(item, epoch)`` says so with a class attribute ``stores_epochs =
    True``; runs with ``epochs=K`` refuse any other (they need that identity).
    """

    url: str

    def experiments(self) -> list[ExperimentInfo]:
        """Every experiment with its evaluations, as stored (newest first)."""
        ...

    def begin(
        self,
        experiment: str,
        evaluation: str,
        lease: Lease,
        metadata: Mapping[str, Any],
        admit: Admit,
    ) -> StoredState:
        """Atomically: create the experiment and evaluation if needed, ``admit`` the stored
        holder (which raises to refuse), then store ``lease`` and ``running``."""
        ...

    def writer(self, experiment: str, evaluation: str, lease: Lease) -> Writer: ...

    def release(self, experiment: str, evaluation: str, lease: Lease, status: str) -> None:
        """Give the lease back without writing, setting ``status`` (if ``lease`` still holds)."""
        ...

    def records(
        self,
        experiment: str,
        evaluation: str,
        *,
        start: int = 0,
        stop: int | None = None,
        errors_only: bool = False,
        successes_only: bool = False,
    ) -> Iterator[Record]:
        """The effective record of every stored item in ``[start, stop)``, by item id."""
        ...

    def rename(self, old: str, new: str, admit: Admit) -> None:
        """Atomically: ``admit`` every evaluation's holder, then rename the experiment."""
        ...

    def delete(self, experiment: str, admit: Admit) -> None:
        """Atomically: ``admit`` every evaluation's holder, then remove the experiment."""
        ...


@runtime_checkable
class EvaluationLookup(Protocol):
    """Optional: one evaluation by name, without listing the whole store.

    Without it, the policy layer looks through ``experiments()``.
    """

    def evaluation(self, experiment: str, name: str) -> EvaluationInfo | None: ...


@runtime_checkable
class RecordCount(Protocol):
    """Optional: how many records an evaluation holds, without reading them.

    Without it, the policy layer counts the records ``records()`` yields.
    """

    def count(self, experiment: str, evaluation: str) -> int: ...


@runtime_checkable
class IntegrityCheck(Protocol):
    """Optional: the store's own check of its files (SQLite's ``integrity_check``).

    Returns what is wrong, one sentence each; nothing when the files are sound.
    """

    def integrity(self) -> list[str]: ...


@runtime_checkable
class PagedRecords(Protocol):
    """Optional: one page of records in the store, for a viewer paging through millions.

    Without it, the policy layer reads ``records(start=after + 1)`` and stops after
    ``limit``, which the core protocol already makes a keyset read.
    """

    def page(
        self,
        experiment: str,
        evaluation: str,
        *,
        after: int | None,
        limit: int,
        errors_only: bool = False,
    ) -> list[Record]:
        """Up to ``limit`` records with item ids above ``after``, by ascending id."""
        ...


@runtime_checkable
class ShardedRuns(Protocol):
    """Optional: one evaluation run in shards, each shard under a lease of its own.

    A backend with it accepts leases whose ``shard`` is set in ``begin``, ``writer``
    and ``release``, and keeps per evaluation, beside its own lease and totals, a
    lease, status, totals, seed and ``expected`` per shard (``EvaluationInfo.shards``):

    - ``begin`` with a shard's lease passes the evaluation's holder and every
      shard's to ``admit``, then stores the lease as that shard's and marks the shard and the
      evaluation running. It forgets the evaluation's totals, summary and seed (no
      longer those of what is stored) and the seeds of the shards of another count
      (theirs may overlap). Its ``StoredState`` is the evaluation's items, with the
      shard's previous status and seed.
    - ``begin`` without a shard passes every shard's holder to ``admit`` too, then forgets
      the shards: the evaluation is one run again.
    - A shard's writer stores records as any writer does, and its totals, seed and
      lease as the shard's; its ``finish`` takes ``estimates=`` and ``expected=`` (see
      :class:`ShardInfo`).
    - ``EvaluationInfo.counts`` of an evaluation with shards (until :meth:`settle`)
      counts the records stored, whichever shard stored them.

    A backend without it refuses runs with ``shard=``.
    """

    def settle(
        self,
        experiment: str,
        evaluation: str,
        status: str,
        counts: Counts,
        summary: Mapping[str, Mapping[str, Any]],
        estimates: Mapping[str, Mapping[str, Estimate | None]],
        admit: Admit,
    ) -> bool:
        """Atomically: ``admit`` every holder of the evaluation (raises while one runs);
        if it holds exactly ``counts.total`` records, ``counts.errors`` of them errors,
        store ``status`` and the totals over every shard; whether it did."""
        ...
