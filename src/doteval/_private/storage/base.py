"""The ``Storage`` protocol every backend implements, and choosing a backend by URL."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

import attrs

from doteval._private.records import Counts, Record
from doteval._private.storage.lease import Lease, is_stale

DEFAULT_URL = "sqlite://.doteval/doteval.db"
"""Where runs go unless ``storage=`` or ``DOTEVAL_STORAGE`` says otherwise (relative to the cwd)."""

ENTRY_POINT_GROUP = "doteval.storage"
"""Third-party backends register ``scheme = "package.module:factory"`` here."""

RUNNING = "running"
COMPLETED = "completed"
PARTIAL = "partial"
INTERRUPTED = "interrupted"
FAILED = "failed"
STATUSES = (RUNNING, COMPLETED, PARTIAL, INTERRUPTED, FAILED)

StoredItem = tuple[int, int, bool]
"""An item id, the hash of its row, and whether it succeeded."""


class StorageError(RuntimeError):
    """The store cannot do what was asked (unknown URL, lost lease, corrupt file)."""


class DatasetChangedError(StorageError):
    """Resuming over a dataset whose rows differ from the stored ones."""


class StorageWarning(UserWarning):
    """Something was stored or read in a degraded way (a value kept as its ``repr``, a
    truncated line skipped); the run goes on."""


def effective_status(status: str, holder: Lease | None) -> str:
    """A run whose holder died still says ``running`` in the store; show it as interrupted."""
    if status == RUNNING and (holder is None or is_stale(holder)):
        return INTERRUPTED
    return status


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


@attrs.frozen
class ExperimentInfo:
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
        """Up to ``count`` stored items with ``start <= id < stop``, by ascending id."""
        ...


class Writer(Protocol):
    """Writes one run's records; used from one thread at a time, never the event loop's."""

    keeps_seed: bool
    """Whether ``write`` stores the ``seed`` snapshot (then resuming need not re-read records)."""

    def write(
        self,
        batch: Sequence[tuple[Record, int]],
        counts: Counts,
        seed: Mapping[str, Any] | None,
    ) -> str | None:
        """Store ``(record, row hash)`` pairs atomically; a later record of an item replaces
        the earlier one. Returns a description of the first value stored as its ``repr``.
        Raises :class:`StorageError` if the lease was taken over."""
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
    """A place where experiments live; backends are chosen by URL scheme."""

    url: str

    def experiments(self) -> list[ExperimentInfo]:
        """Every experiment with its evaluations, newest first."""
        ...

    def begin(
        self,
        experiment: str,
        evaluation: str,
        lease: Lease,
        metadata: Mapping[str, Any],
    ) -> StoredState:
        """Take the evaluation's lease (raising ``EvaluationBusyError`` if a live run holds
        it), create the experiment and evaluation if needed, and mark it running."""
        ...

    def writer(self, experiment: str, evaluation: str, lease: Lease) -> Writer: ...

    def release(self, experiment: str, evaluation: str, lease: Lease, status: str) -> None:
        """Give the lease back without writing, setting ``status``."""
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

    def rename(self, old: str, new: str) -> None: ...

    def delete(self, experiment: str) -> None: ...


def default_url() -> str:
    return os.environ.get("DOTEVAL_STORAGE") or DEFAULT_URL


def _scheme(url: str) -> tuple[str, str]:
    scheme, separator, rest = url.partition("://")
    if not separator or not scheme:
        raise StorageError(
            f"storage {url!r} is not a storage URL; use sqlite://PATH, jsonl://DIR or "
            f"memory:// (for example {DEFAULT_URL!r})"
        )
    return scheme.lower(), rest


def open_storage(url: str | Storage | None = None) -> Storage:
    """The backend for ``url`` (default: ``DOTEVAL_STORAGE``, else ``.doteval/doteval.db``)."""
    if url is not None and not isinstance(url, str):
        if isinstance(url, Storage):
            return url
        raise TypeError(f"storage must be a URL string or a Storage object, got {url!r}")
    url = url or default_url()
    scheme, rest = _scheme(url)
    if scheme == "sqlite":
        from doteval._private.storage.sqlite import SqliteStorage

        return SqliteStorage.open(_path(url, rest))
    if scheme == "jsonl":
        from doteval._private.storage.jsonl import JsonlStorage

        return JsonlStorage(_path(url, rest))
    if scheme == "memory":
        from doteval._private.storage.memory import MemoryStorage

        return MemoryStorage.named(rest)
    found = [point for point in entry_points(group=ENTRY_POINT_GROUP) if point.name == scheme]
    if not found:
        raise StorageError(
            f"no storage backend for {scheme}:// in {url!r}; the built-in ones are "
            f"sqlite://, jsonl:// and memory://, and packages add others through the "
            f"{ENTRY_POINT_GROUP!r} entry-point group"
        )
    storage = found[0].load()(url)
    if not isinstance(storage, Storage):
        raise StorageError(f"the {scheme}:// backend returned {storage!r}, not a Storage")
    return storage


def _path(url: str, rest: str) -> str:
    if not rest or "\x00" in rest:
        raise StorageError(f"storage URL {url!r} needs a path, e.g. {DEFAULT_URL!r}")
    return os.path.abspath(os.path.expanduser(rest))
