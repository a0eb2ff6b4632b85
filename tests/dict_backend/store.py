"""``dict://NAME``: experiments kept in plain dicts, one store per name, in this process.

Only names that ``doteval.storage`` exports are used: that module is all a backend
author needs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from doteval.storage import (
    RUNNING,
    Admit,
    Counts,
    EvaluationInfo,
    ExperimentExistsError,
    ExperimentInfo,
    Lease,
    Record,
    RecordEncoder,
    StoredItem,
    UnknownNameError,
    decode_record,
    verify_holder,
)

_STORES: dict[str, DictStorage] = {}
_STORES_LOCK = threading.Lock()


class _Evaluation:
    def __init__(self, metadata: Mapping[str, Any], lease: Lease) -> None:
        self.status = RUNNING
        self.started_at = time.time()
        self.ended_at: float | None = None
        self.metadata = dict(metadata)
        self.lease: Lease | None = lease
        self.counts: Counts | None = None
        self.summary: Mapping[str, Mapping[str, Any]] | None = None
        self.seed: Mapping[str, Any] | None = None
        # item id -> (row hash, succeeded, the record as JSON): stored as text, as a
        # real backend would, so the serialisation round trip is exercised.
        self.items: dict[int, tuple[int, bool, str]] = {}


class _State:
    def __init__(self, evaluation: _Evaluation, previous: str | None) -> None:
        self.previous = previous
        self.seed = evaluation.seed
        self._items = sorted((key, value[0], value[1]) for key, value in evaluation.items.items())

    @property
    def extent(self) -> int:
        return self._items[-1][0] + 1 if self._items else 0

    def fetch(self, start: int, stop: int | None, count: int) -> Sequence[StoredItem]:
        chosen = [item for item in self._items if item[0] >= start]
        return [item for item in chosen[:count] if stop is None or item[0] < stop]


class _Writer:
    keeps_seed = True

    def __init__(self, store: DictStorage, experiment: str, name: str, lease: Lease) -> None:
        self.store, self.experiment, self.name, self.lease = store, experiment, name, lease
        self.encoder = RecordEncoder()

    def _held(self) -> _Evaluation:
        found = self.store.data.get(self.experiment, {}).get(self.name)
        verify_holder(
            None if found is None else found.lease,
            self.lease,
            self.experiment,
            self.name,
            exists=found is not None,
        )
        assert found is not None
        return found

    def write(
        self,
        batch: Sequence[tuple[Record, int]],
        counts: Counts,
        seed: Mapping[str, Any] | None,
    ) -> str | None:
        encoded = [
            (record.item_id, hashed, record.error is None, self.encoder.compact(record))
            for record, hashed in batch
        ]
        with self.store.lock:
            evaluation = self._held()
            for item_id, hashed, succeeded, text in encoded:
                evaluation.items[item_id] = (hashed, succeeded, text)
            evaluation.counts, evaluation.seed = counts, seed
        return self.encoder.replaced

    def heartbeat(self) -> None:
        with self.store.lock:
            evaluation = self._held()
            self.lease = evaluation.lease = self.lease.beat()

    def finish(
        self, status: str, counts: Counts, summary: Mapping[str, Mapping[str, Any]] | None
    ) -> None:
        with self.store.lock:
            evaluation = self._held()
            evaluation.status, evaluation.counts, evaluation.summary = status, counts, summary
            evaluation.ended_at, evaluation.lease = time.time(), None

    def close(self) -> None:
        pass


class DictStorage:
    def __init__(self, url: str) -> None:
        self.url = url
        self.lock = threading.Lock()
        self.data: dict[str, dict[str, _Evaluation]] = {}
        self.created: dict[str, float] = {}

    def _evaluation(self, experiment: str, name: str) -> _Evaluation:
        found = self.data.get(experiment, {}).get(name)
        if found is None:
            raise UnknownNameError(f"{name} of experiment {experiment!r} is not in {self.url}")
        return found

    def experiments(self) -> list[ExperimentInfo]:
        with self.lock:
            found = [
                ExperimentInfo(
                    name,
                    self.created[name],
                    tuple(
                        EvaluationInfo(
                            experiment=name,
                            name=evaluation_name,
                            status=evaluation.status,
                            started_at=evaluation.started_at,
                            ended_at=evaluation.ended_at,
                            metadata=evaluation.metadata,
                            counts=evaluation.counts,
                            summary=evaluation.summary,
                            holder=evaluation.lease,
                        )
                        for evaluation_name, evaluation in sorted(evaluations.items())
                    ),
                )
                for name, evaluations in self.data.items()
            ]
        return sorted(found, key=lambda info: (-info.created_at, info.name))

    def begin(
        self,
        experiment: str,
        evaluation: str,
        lease: Lease,
        metadata: Mapping[str, Any],
        admit: Admit,
    ) -> _State:
        with self.lock:
            evaluations = self.data.setdefault(experiment, {})
            self.created.setdefault(experiment, time.time())
            found = evaluations.get(evaluation)
            admit(evaluation, None if found is None else found.lease)
            if found is None:
                found = evaluations[evaluation] = _Evaluation(metadata, lease)
                return _State(found, None)
            previous = found.status
            found.status, found.metadata, found.lease = RUNNING, dict(metadata), lease
            found.ended_at = None
            return _State(found, previous)

    def writer(self, experiment: str, evaluation: str, lease: Lease) -> _Writer:
        with self.lock:
            self._evaluation(experiment, evaluation)
        return _Writer(self, experiment, evaluation, lease)

    def release(self, experiment: str, evaluation: str, lease: Lease, status: str) -> None:
        with self.lock:
            found = self._evaluation(experiment, evaluation)
            if found.lease is not None and found.lease.token == lease.token:
                found.status, found.lease = status, None

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
            items = dict(self._evaluation(experiment, evaluation).items)
        for item_id in sorted(items):
            _, succeeded, text = items[item_id]
            if item_id < start or (stop is not None and item_id >= stop):
                continue
            if (errors_only and succeeded) or (successes_only and not succeeded):
                continue
            yield decode_record(text)

    def _admit_all(self, experiment: str, admit: Admit) -> dict[str, _Evaluation]:
        evaluations = self.data.get(experiment)
        if evaluations is None:
            raise UnknownNameError(f"no experiment {experiment!r} in {self.url}")
        for name, evaluation in evaluations.items():
            admit(name, evaluation.lease)
        return evaluations

    def rename(self, old: str, new: str, admit: Admit) -> None:
        with self.lock:
            evaluations = self._admit_all(old, admit)
            if new in self.data:
                raise ExperimentExistsError(new)
            self.data[new] = evaluations
            self.created[new] = self.created.pop(old)
            del self.data[old]

    def delete(self, experiment: str, admit: Admit) -> None:
        with self.lock:
            self._admit_all(experiment, admit)
            del self.data[experiment]
            del self.created[experiment]


def open_backend(url: str) -> DictStorage:
    """The entry point's factory: one store per URL, for the life of the process."""
    with _STORES_LOCK:
        found = _STORES.get(url)
        if found is None:
            found = _STORES[url] = DictStorage(url)
        return found
