"""``memory://``: experiments kept in this process only; nothing touches the disk.

A run with ``keep_records=False`` keeps, per item, only its row hash and whether it
succeeded (a :class:`_Ledger` of machine integers, ~25 bytes an item where a record
takes ~1 KB), and a snapshot of the totals: enough to resume, not to read records.
"""

from __future__ import annotations

import bisect
import itertools
import threading
import time
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, overload

import attrs

from doteval._private.errors import ExperimentExistsError, StorageError, UnknownNameError
from doteval._private.results.records import Counts, Record
from doteval._private.storage.estimates_json import Estimates
from doteval._private.storage.lease import Lease
from doteval._private.storage.policy import verify_holder
from doteval._private.storage.protocol import (
    Admit,
    EvaluationInfo,
    ExperimentInfo,
    ShardInfo,
    StoredItem,
)
from doteval._private.storage.shard import Shard
from doteval._private.storage.status import RUNNING


@attrs.define(eq=False, repr=False)
class _Ledger(Sequence[StoredItem]):
    """Per ``(item id, epoch)``: the row hash and whether it succeeded, in arrays; a later
    entry of an item supersedes earlier ones until :meth:`settled` keeps only the last."""

    item_ids: array[int] = attrs.field(factory=lambda: array("q"))
    epochs: array[int] = attrs.field(factory=lambda: array("q"))
    hashes: array[int] = attrs.field(factory=lambda: array("q"))
    oks: bytearray = attrs.field(factory=bytearray)

    @classmethod
    def of(cls, entries: Iterable[StoredItem]) -> _Ledger:
        ledger = cls()
        for entry in entries:  # memory:// stores epochs: every entry has one
            ledger.add(entry[0], entry[3] if len(entry) > 3 else 0, entry[1], entry[2])
        return ledger

    def add(self, item_id: int, epoch: int, hashed: int, ok: bool) -> None:
        self.item_ids.append(item_id)
        self.epochs.append(epoch)
        self.hashes.append(hashed)
        self.oks.append(ok)

    def settled(self) -> _Ledger:
        """The effective entries, by item and epoch (the sort is stable: the last wins)."""
        ids, epochs = self.item_ids, self.epochs
        keys = zip(ids, epochs, strict=True)
        following = itertools.islice(zip(ids, epochs, strict=True), 1, None)
        if all(a < b for a, b in zip(keys, following, strict=False)):
            return self  # in order, each once (a fresh run's ledger, mostly): no copy
        order = sorted(range(len(ids)), key=lambda i: (ids[i], epochs[i]))
        kept = [
            i
            for n, i in enumerate(order)
            if n + 1 == len(order)
            or (ids[order[n + 1]], epochs[order[n + 1]]) != (ids[i], epochs[i])
        ]
        return _Ledger(
            array("q", (ids[i] for i in kept)),
            array("q", (epochs[i] for i in kept)),
            array("q", (self.hashes[i] for i in kept)),
            bytearray(self.oks[i] for i in kept),
        )

    def __len__(self) -> int:
        return len(self.item_ids)

    @overload
    def __getitem__(self, index: int) -> StoredItem: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[StoredItem]: ...

    def __getitem__(self, index: int | slice) -> StoredItem | Sequence[StoredItem]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return (self.item_ids[index], self.hashes[index], bool(self.oks[index]), self.epochs[index])


def _not_kept(experiment: str, evaluation: str, url: str) -> StorageError:
    return StorageError(
        f"{evaluation} of experiment {experiment!r} in {url} ran with keep_records=False, "
        f"so its records were not kept (its summary, counts and which items finished "
        f"were); run it with keep_records=True (the default) to keep them in memory, or "
        f"with storage='sqlite://...' to keep them on disk"
    )


@attrs.define(eq=False, repr=False)
class _Shard:
    """One shard's run: what ``ShardInfo`` reports."""

    status: str
    started_at: float
    lease: Lease | None
    ended_at: float | None = None
    counts: Counts | None = None
    expected: int | None = None
    seed: Mapping[str, Any] | None = None

    def info(self, shard: Shard) -> ShardInfo:
        return ShardInfo(
            shard,
            self.status,
            self.started_at,
            self.ended_at,
            self.counts,
            self.lease,
            self.expected,
        )


@attrs.define(eq=False, repr=False)
class _Evaluation:
    status: str
    started_at: float
    metadata: Mapping[str, Any]
    lease: Lease | None
    ended_at: float | None = None
    counts: Counts | None = None
    summary: Mapping[str, Mapping[str, Any]] | None = None
    items: dict[tuple[int, int], Record] = attrs.field(factory=dict)
    """Per ``(item id, epoch)``: the record."""
    hashes: dict[tuple[int, int], int] = attrs.field(factory=dict)
    """Per key of ``items``: the row hash. Kept apart, not paired with the record in a
    tuple: a tuple per kept record is one more object for every full garbage collection
    to visit, and those visits grow with the records kept."""
    estimates: Estimates | None = None
    shards: dict[Shard, _Shard] = attrs.field(factory=dict)
    ledger: _Ledger | None = None
    """Instead of ``items`` once a run dropped the records (``keep_records=False``)."""
    seed: Mapping[str, Any] | None = None

    def holders(self) -> list[Lease | None]:
        """The evaluation's lease and every shard's."""
        return [self.lease, *(state.lease for state in self.shards.values())]

    def tally(self) -> Counts:
        if self.ledger is not None:
            self.ledger = settled = self.ledger.settled()
            return Counts(len(settled), settled.oks.count(0), 0, 0)
        errors = sum(1 for record in self.items.values() if record.error is not None)
        return Counts(len(self.items), errors, 0, 0)

    def entries(self) -> Sequence[StoredItem]:
        """Every stored ``(item id, row hash, ok, epoch)``, by item and epoch."""
        if self.ledger is not None:
            self.ledger = self.ledger.settled()
            return self.ledger
        return sorted(
            (
                (item_id, self.hashes[item_id, epoch], record.error is None, epoch)
                for (item_id, epoch), record in self.items.items()
            ),
            key=lambda item: (item[0], item[3]),
        )


@attrs.define(eq=False, repr=False)
class _Experiment:
    created_at: float
    evaluations: dict[str, _Evaluation] = attrs.field(factory=dict)


@attrs.define(eq=False, repr=False)
class _Stored:
    items: Sequence[StoredItem]
    """``(item id, row hash, ok, epoch)``, by item and epoch."""
    previous: str | None = None
    seed: Mapping[str, Any] | None = None

    @property
    def extent(self) -> int:
        return self.items[-1][0] + 1 if self.items else 0

    def fetch(self, start: int, stop: int | None, count: int) -> Sequence[StoredItem]:
        first = bisect.bisect_left(self.items, start, key=lambda item: item[0])
        chosen = self.items[first : first + count]
        return [item for item in chosen if stop is None or item[0] < stop]


@attrs.define(eq=False, repr=False)
class _Writer:
    storage: MemoryStorage
    evaluation: _Evaluation
    lease: Lease
    names: tuple[str, str]
    keeps_seed: bool = False
    """Only when records are not kept: then resuming cannot read them back."""
    keeps_estimates: bool = True
    _drops: bool = False

    def _holder(self) -> _Evaluation | _Shard:
        """What holds this writer's lease: the evaluation, or its shard's run."""
        shard = self.lease.shard
        if shard is None:
            return self.evaluation
        found = self.evaluation.shards.get(shard)
        return _Shard(RUNNING, 0.0, None) if found is None else found

    def _check_lease(self) -> _Evaluation | _Shard:
        holder = self._holder()
        verify_holder(holder.lease, self.lease, *self.names)
        return holder

    def write(
        self,
        batch: Sequence[tuple[Record, int]],
        counts: Counts,
        seed: Mapping[str, Any] | None,
    ) -> str | None:
        with self.storage.lock:
            holder = self._check_lease()
            evaluation = self.evaluation
            if self._drops and evaluation.ledger is None:
                evaluation.ledger = _Ledger.of(evaluation.entries())
                evaluation.items, evaluation.hashes = {}, {}
            ledger = evaluation.ledger
            if ledger is None:
                items, hashes = evaluation.items, evaluation.hashes
                for record, hashed in batch:
                    key = record.item_id, record.epoch
                    items[key] = record
                    hashes[key] = hashed
            else:
                for record, hashed in batch:
                    ledger.add(record.item_id, record.epoch, hashed, record.error is None)
                holder.seed = seed
            holder.counts = counts
        return None

    def drop_records(self) -> None:
        """``keep_records=False``: from the first write on, keep each item's row hash and
        success but not its record, and the totals' snapshot a resumed run starts from
        (records stored before are read back until then, e.g. to seed the totals)."""
        self._drops = self.keeps_seed = True

    def heartbeat(self) -> None:
        with self.storage.lock:
            holder = self._check_lease()
            self.lease = holder.lease = self.lease.beat()

    def finish(
        self,
        status: str,
        counts: Counts,
        summary: Mapping[str, Mapping[str, Any]] | None,
        estimates: Estimates | None = None,
        expected: int | None = None,
    ) -> None:
        with self.storage.lock:
            holder = self._check_lease()
            holder.status, holder.counts = status, counts
            holder.ended_at = time.time()
            holder.lease = None
            if isinstance(holder, _Shard):
                holder.expected = expected
            else:
                holder.summary, holder.estimates = summary, estimates

    def close(self) -> None:
        pass


@attrs.define(eq=False, repr=False)
class MemoryStorage:
    """One in-process store per ``memory://NAME``; it lives as long as the process."""

    url: str
    lock: threading.Lock = attrs.field(factory=threading.Lock)
    stores_epochs: ClassVar[bool] = True
    _experiments: dict[str, _Experiment] = attrs.field(factory=dict)

    _NAMED: ClassVar[dict[str, MemoryStorage]] = {}
    _NAMED_LOCK: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def named(cls, name: str) -> MemoryStorage:
        with cls._NAMED_LOCK:
            found = cls._NAMED.get(name)
            if found is None:
                found = cls._NAMED[name] = cls(f"memory://{name}")
            return found

    def _experiment(self, name: str) -> _Experiment:
        found = self._experiments.get(name)
        if found is None:
            raise UnknownNameError(f"no experiment {name!r} in {self.url}")
        return found

    def _evaluation(self, experiment: str, name: str) -> _Evaluation:
        found = self._experiment(experiment).evaluations.get(name)
        if found is None:
            raise UnknownNameError(f"{name} of experiment {experiment!r} is not in {self.url}")
        return found

    def evaluation(self, experiment: str, name: str) -> EvaluationInfo | None:
        with self.lock:
            found = self._experiments.get(experiment)
            stored = None if found is None else found.evaluations.get(name)
            return None if stored is None else self._info(experiment, name, stored)

    @staticmethod
    def _info(experiment: str, name: str, evaluation: _Evaluation) -> EvaluationInfo:
        counts = evaluation.counts
        if counts is None and evaluation.shards:
            counts = evaluation.tally()
        return EvaluationInfo(
            experiment=experiment,
            name=name,
            status=evaluation.status,
            started_at=evaluation.started_at,
            ended_at=evaluation.ended_at,
            metadata=evaluation.metadata,
            counts=counts,
            summary=evaluation.summary,
            holder=evaluation.lease,
            estimates=evaluation.estimates,
            shards=tuple(
                state.info(shard)
                for shard, state in sorted(evaluation.shards.items(), key=lambda e: e[0].order)
            ),
        )

    def experiments(self) -> list[ExperimentInfo]:
        with self.lock:
            found = [
                ExperimentInfo(
                    name,
                    experiment.created_at,
                    tuple(
                        self._info(name, evaluation_name, evaluation)
                        for evaluation_name, evaluation in sorted(experiment.evaluations.items())
                    ),
                )
                for name, experiment in self._experiments.items()
            ]
        return sorted(found, key=lambda info: -info.created_at)

    def begin(
        self,
        experiment: str,
        evaluation: str,
        lease: Lease,
        metadata: Mapping[str, Any],
        admit: Admit,
    ) -> _Stored:
        shard = lease.shard
        with self.lock:
            found = self._experiments.setdefault(experiment, _Experiment(time.time()))
            stored = found.evaluations.get(evaluation)
            if stored is None:
                admit(evaluation, None)
                stored = _Evaluation(RUNNING, time.time(), metadata, None if shard else lease)
                if shard is not None:
                    stored.shards[shard] = _Shard(RUNNING, time.time(), lease)
                found.evaluations[evaluation] = stored
                return _Stored(())
            for holder in stored.holders():
                admit(evaluation, holder)
            previous: str | None = stored.status
            stored.status, stored.metadata = RUNNING, metadata
            stored.ended_at = None
            if shard is None:
                stored.lease = lease
                stored.shards.clear()
            else:
                stored.counts = stored.summary = stored.estimates = None
                before = stored.shards.get(shard)
                previous = None if before is None else before.status
                # What the shard's earlier run learnt of the dataset (``expected``) stays.
                stored.shards[shard] = _Shard(
                    RUNNING,
                    time.time(),
                    lease,
                    expected=None if before is None else before.expected,
                    seed=None if before is None else before.seed,
                )
            seed = stored.seed if shard is None else stored.shards[shard].seed
            return _Stored(stored.entries(), previous, seed)

    def writer(self, experiment: str, evaluation: str, lease: Lease) -> _Writer:
        with self.lock:
            found = self._evaluation(experiment, evaluation)
            keeps_seed = found.ledger is not None  # records dropped once stay dropped
            return _Writer(self, found, lease, (experiment, evaluation), keeps_seed=keeps_seed)

    def release(self, experiment: str, evaluation: str, lease: Lease, status: str) -> None:
        with self.lock:
            found = self._evaluation(experiment, evaluation)
            holder: _Evaluation | _Shard | None = found
            if lease.shard is not None:
                holder = found.shards.get(lease.shard)
            if (
                holder is not None
                and holder.lease is not None
                and holder.lease.token == lease.token
            ):
                holder.status, holder.lease = status, None

    def settle(
        self,
        experiment: str,
        evaluation: str,
        status: str,
        counts: Counts,
        summary: Mapping[str, Mapping[str, Any]],
        estimates: Estimates,
        admit: Admit,
    ) -> bool:
        with self.lock:
            found = self._evaluation(experiment, evaluation)
            for holder in found.holders():
                admit(evaluation, holder)
            stored = found.tally()
            if (stored.total, stored.errors) != (counts.total, counts.errors):
                return False
            found.status, found.counts, found.summary = status, counts, summary
            found.estimates, found.ended_at = estimates, time.time()
            found.seed = None
            return True

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
        with self.lock:
            found = self._evaluation(experiment, evaluation)
            if found.ledger is not None:
                raise _not_kept(experiment, evaluation, self.url)
            items = found.items
            chosen = sorted(
                key for key in items if start <= key[0] and (stop is None or key[0] < stop)
            )
        for key in chosen:
            record = items[key]
            failed = record.error is not None
            if (errors_only and not failed) or (successes_only and failed):
                continue
            yield record

    def count(self, experiment: str, evaluation: str) -> int:
        with self.lock:
            return len(self._evaluation(experiment, evaluation).entries())

    def rename(self, old: str, new: str, admit: Admit) -> None:
        with self.lock:
            found = self._experiment(old)
            for name, evaluation in found.evaluations.items():
                for holder in evaluation.holders():
                    admit(name, holder)
            if new in self._experiments:
                raise ExperimentExistsError(new)
            self._experiments[new] = found
            del self._experiments[old]

    def delete(self, experiment: str, admit: Admit) -> None:
        with self.lock:
            found = self._experiment(experiment)
            for name, evaluation in found.evaluations.items():
                for holder in evaluation.holders():
                    admit(name, holder)
            del self._experiments[experiment]


def open_backend(url: str) -> MemoryStorage:
    """The factory of ``memory://NAME``: one store per name, for the life of the process."""
    return MemoryStorage.named(url.partition("://")[2])
