"""``memory://``: experiments kept in this process only; nothing touches the disk."""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import attrs

from doteval._private.errors import ExperimentExistsError, UnknownNameError
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


@attrs.define(eq=False)
class _Shard:
    """One shard's run: what ``ShardInfo`` reports."""

    status: str
    started_at: float
    lease: Lease | None
    ended_at: float | None = None
    counts: Counts | None = None
    expected: int | None = None

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


@attrs.define(eq=False)
class _Evaluation:
    status: str
    started_at: float
    metadata: Mapping[str, Any]
    lease: Lease | None
    ended_at: float | None = None
    counts: Counts | None = None
    summary: Mapping[str, Mapping[str, Any]] | None = None
    items: dict[tuple[int, int], tuple[int, Record]] = attrs.field(factory=dict)
    """Per ``(item id, epoch)``: the row hash and the record."""
    estimates: Estimates | None = None
    shards: dict[Shard, _Shard] = attrs.field(factory=dict)

    def holders(self) -> list[Lease | None]:
        """The evaluation's lease and every shard's."""
        return [self.lease, *(state.lease for state in self.shards.values())]

    def tally(self) -> Counts:
        errors = sum(1 for _, record in self.items.values() if record.error is not None)
        return Counts(len(self.items), errors, 0, 0)


@attrs.define(eq=False)
class _Experiment:
    created_at: float
    evaluations: dict[str, _Evaluation] = attrs.field(factory=dict)


@attrs.define(eq=False)
class _Stored:
    items: list[tuple[int, int, bool, int]]
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


@attrs.define(eq=False)
class _Writer:
    storage: MemoryStorage
    evaluation: _Evaluation
    lease: Lease
    names: tuple[str, str]
    keeps_seed: bool = False
    keeps_estimates: bool = True

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
            items = self.evaluation.items
            for record, hashed in batch:
                items[record.item_id, record.epoch] = (hashed, record)
            holder.counts = counts
        return None

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


@attrs.define(eq=False)
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
                return _Stored([])
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
                )
            items = sorted(
                (
                    (item_id, hashed, record.error is None, epoch)
                    for (item_id, epoch), (hashed, record) in stored.items.items()
                ),
                key=lambda item: (item[0], item[3]),
            )
        return _Stored(items, previous)

    def writer(self, experiment: str, evaluation: str, lease: Lease) -> _Writer:
        with self.lock:
            return _Writer(
                self, self._evaluation(experiment, evaluation), lease, (experiment, evaluation)
            )

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
            items = self._evaluation(experiment, evaluation).items
            chosen = sorted(
                key for key in items if start <= key[0] and (stop is None or key[0] < stop)
            )
        for key in chosen:
            record = items[key][1]
            failed = record.error is not None
            if (errors_only and not failed) or (successes_only and failed):
                continue
            yield record

    def count(self, experiment: str, evaluation: str) -> int:
        with self.lock:
            return len(self._evaluation(experiment, evaluation).items)

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
