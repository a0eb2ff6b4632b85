"""``jsonl://DIR``: one append-only JSON-lines file per evaluation, readable with ``jq``.

``DIR/EXPERIMENT/EVALUATION.jsonl`` holds one line per record; a later line for an
item supersedes earlier ones. ``EVALUATION.meta.json`` beside it holds the status,
times, options, totals and the lease; it is replaced atomically, under a lock file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import socket
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

import attrs

from doteval._private.errors import (
    EvaluationBusyError,
    ExperimentExistsError,
    StorageError,
    UnknownNameError,
)
from doteval._private.results.records import Counts, Record
from doteval._private.storage.backends.line_index import LineIndex
from doteval._private.storage.holders import describe_process, how_to_free
from doteval._private.storage.lease import Lease
from doteval._private.storage.naming import file_stem
from doteval._private.storage.policy import verify_holder
from doteval._private.storage.protocol import Admit, EvaluationInfo, ExperimentInfo, StoredItem
from doteval._private.storage.serialize import RecordEncoder, record_from_document
from doteval._private.storage.status import RUNNING
from doteval._private.storage.urls import local_path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one writer per experiment directory
    fcntl = None  # type: ignore[assignment]

_EXPERIMENT_FILE = ".experiment.json"
_LOCK_FILE = ".lock"


LOCK_TIMEOUT = 5.0
"""Seconds to wait for another holder of an experiment's lock before raising
``EvaluationBusyError``; a healthy holder keeps it for one meta-file update, milliseconds."""

_LOCK_CONTENDED = frozenset({errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK})


@contextlib.contextmanager
def _locked(directory: str) -> Iterator[None]:
    """Serialise meta-file updates of one experiment across threads and processes.

    The holder writes its pid and host into the lock file, so a wait that runs out can
    say who holds the lock. An ``flock`` lock dies with its process (and with every
    child that inherited the descriptor), so a killed holder blocks nobody; a stopped
    one keeps its lock, which is why every wait is bounded.
    """
    path = os.path.join(directory, _LOCK_FILE)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if fcntl is not None:
            _lock(descriptor, directory)
        try:
            yield
        finally:
            if fcntl is not None:
                with contextlib.suppress(OSError):
                    os.ftruncate(descriptor, 0)  # nobody holds it now
                fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def _lock(descriptor: int, directory: str) -> None:
    """Take the lock within ``LOCK_TIMEOUT`` seconds and say in it who holds it now."""
    deadline = time.monotonic() + LOCK_TIMEOUT
    pause = 0.001
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as exc:
            if exc.errno not in _LOCK_CONTENDED:
                raise
        if time.monotonic() >= deadline:
            raise _busy(descriptor, directory)
        time.sleep(pause)
        pause = min(2 * pause, 0.05)
    claim = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})
    os.pwrite(descriptor, claim.encode(), 0)
    os.ftruncate(descriptor, len(claim))


def _busy(descriptor: int, directory: str) -> EvaluationBusyError:
    try:
        claim = json.loads(os.pread(descriptor, 4096, 0))
        pid, host, since = int(claim["pid"]), str(claim["host"]), float(claim["since"])
    except (OSError, ValueError, TypeError, KeyError):
        holder, free = "another process (its lock file does not say which)", how_to_free(())
    else:
        holder, free = describe_process(pid, host, since), how_to_free((pid,))
    return EvaluationBusyError(
        f"experiment {os.path.basename(directory)!r} of the jsonl store in "
        f"{os.path.dirname(directory)} is locked by {holder}, which has not released "
        f"{os.path.join(directory, _LOCK_FILE)} within {LOCK_TIMEOUT:g} s (a healthy "
        f"run holds it for milliseconds). {free}"
    )


def _read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _write_json(path: str, value: Any) -> None:
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(value, handle, default=repr)
    os.replace(temporary, path)


@attrs.define(eq=False)
class _Stored:
    index: LineIndex
    extent: int
    previous: str | None = None
    seed: Mapping[str, Any] | None = None

    def fetch(self, start: int, stop: int | None, count: int) -> Sequence[StoredItem]:
        return self.index.stored(start, stop, count)


@attrs.define(eq=False)
class _Writer:
    directory: str
    stem: str
    lease: Lease
    handle: IO[bytes]
    experiment: str
    evaluation: str
    keeps_seed: bool = True
    encoder: RecordEncoder = attrs.field(factory=RecordEncoder)

    def _meta_path(self) -> str:
        return os.path.join(self.directory, self.stem + ".meta.json")

    @contextlib.contextmanager
    def _meta(self) -> Iterator[dict[str, Any]]:
        """The meta file to change, only while this run still holds the lease (so a run
        taken over never writes another line), saved when the block ends."""
        with _locked(self.directory):
            try:
                meta = _read_json(self._meta_path())
            except FileNotFoundError:
                meta = None
            verify_holder(
                None if meta is None else Lease.from_json(meta.get("lease")),
                self.lease,
                self.experiment,
                self.evaluation,
                exists=meta is not None,
            )
            assert meta is not None
            yield meta
            _write_json(self._meta_path(), meta)

    def write(
        self,
        batch: Sequence[tuple[Record, int]],
        counts: Counts,
        seed: Mapping[str, Any] | None,
    ) -> str | None:
        encode = self.encoder.document
        lines = [
            encode(record, row_hash=hashed, ok=record.error is None) for record, hashed in batch
        ]
        self.lease = self.lease.beat()
        with self._meta() as meta:
            self.handle.write(("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))
            self.handle.flush()
            meta.update(
                counts=attrs.asdict(counts),
                lease=self.lease.to_json(),
                # The totals hold for the file up to here: after a crash between the append
                # and this update, the file is longer and its lines are read back instead.
                seed={"totals": seed, "end": self.handle.tell()},
            )
        return self.encoder.replaced

    def heartbeat(self) -> None:
        self.lease = self.lease.beat()
        with self._meta() as meta:
            meta.update(lease=self.lease.to_json())

    def finish(
        self,
        status: str,
        counts: Counts,
        summary: Mapping[str, Mapping[str, Any]] | None,
    ) -> None:
        with self._meta() as meta:
            meta.update(
                status=status,
                ended_at=time.time(),
                counts=attrs.asdict(counts),
                summary=summary,
                lease=None,
            )

    def close(self) -> None:
        self.handle.close()


@attrs.define(eq=False)
class JsonlStorage:
    """``jsonl://DIR``: a directory per experiment, a JSON-lines file per evaluation."""

    root: str
    url: str = ""
    _indexes: dict[str, LineIndex] = attrs.field(factory=dict, init=False)
    """Per record file, kept while this object lives: reading again only indexes new lines."""
    _indexes_lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)

    def __attrs_post_init__(self) -> None:
        self.url = self.url or f"jsonl://{self.root}"
        weakref.finalize(self, _close_indexes, self._indexes)

    def _index(self, path: str) -> LineIndex:
        with self._indexes_lock:
            index = self._indexes.get(path)
            if index is None:
                index = self._indexes[path] = LineIndex.open(path)
                return index
        index.refresh()
        return index

    def _forget(self, directory: str) -> None:
        """Close the indexes of an experiment renamed or deleted."""
        with self._indexes_lock:
            gone = [path for path in self._indexes if os.path.dirname(path) == directory]
            _close_indexes({path: self._indexes.pop(path) for path in gone})

    def _directory(self, experiment: str, *, exists: bool = True) -> str:
        directory = os.path.join(self.root, experiment)
        if exists and not os.path.isfile(os.path.join(directory, _EXPERIMENT_FILE)):
            raise UnknownNameError(f"no experiment {experiment!r} in {self.url}")
        return directory

    def _names(self) -> list[str]:
        if not os.path.isdir(self.root):
            return []
        return [
            name
            for name in os.listdir(self.root)
            if os.path.isfile(os.path.join(self.root, name, _EXPERIMENT_FILE))
        ]

    def _paths(self, experiment: str, evaluation: str) -> tuple[str, str, str]:
        directory = self._directory(experiment)
        stem = file_stem(evaluation)
        meta = os.path.join(directory, stem + ".meta.json")
        if not os.path.exists(meta):
            raise UnknownNameError(
                f"{evaluation} of experiment {experiment!r} is not in {self.url}"
            )
        return directory, stem, os.path.join(directory, stem + ".jsonl")

    def experiments(self) -> list[ExperimentInfo]:
        found = []
        for name in self._names():
            directory = os.path.join(self.root, name)
            evaluations = []
            for entry in sorted(os.listdir(directory)):
                if not entry.endswith(".meta.json"):
                    continue
                try:
                    meta = _read_json(os.path.join(directory, entry))
                except (OSError, ValueError):
                    continue  # being replaced, or not ours
                holder = Lease.from_json(meta.get("lease"))
                counts = meta.get("counts")
                evaluations.append(
                    EvaluationInfo(
                        experiment=name,
                        name=meta["name"],
                        status=meta.get("status", RUNNING),
                        started_at=meta.get("started_at"),
                        ended_at=meta.get("ended_at"),
                        metadata=meta.get("metadata") or {},
                        counts=Counts(**counts) if counts else None,
                        summary=meta.get("summary"),
                        holder=holder,
                    )
                )
            created = _read_json(os.path.join(directory, _EXPERIMENT_FILE)).get("created_at", 0.0)
            found.append(ExperimentInfo(name, created, tuple(evaluations)))
        return sorted(found, key=lambda info: (-info.created_at, info.name))

    def begin(
        self,
        experiment: str,
        evaluation: str,
        lease: Lease,
        metadata: Mapping[str, Any],
        admit: Admit,
    ) -> _Stored:
        directory = self._directory(experiment, exists=False)
        stem = file_stem(evaluation)
        os.makedirs(directory, exist_ok=True)
        with _locked(directory):
            marker = os.path.join(directory, _EXPERIMENT_FILE)
            if not os.path.exists(marker):
                _write_json(marker, {"name": experiment, "created_at": time.time()})
            meta_path = os.path.join(directory, stem + ".meta.json")
            meta = _read_json(meta_path) if os.path.exists(meta_path) else None
            previous = None
            if meta is None:
                admit(evaluation, None)
                meta = {"name": evaluation, "started_at": time.time()}
            else:
                admit(evaluation, Lease.from_json(meta.get("lease")))
                previous = meta.get("status", RUNNING)
            meta.update(status=RUNNING, metadata=dict(metadata), lease=lease.to_json())
            meta["ended_at"] = None
            _write_json(meta_path, meta)
        index = self._index(os.path.join(directory, stem + ".jsonl"))
        seed = meta.get("seed") or {}
        totals = seed.get("totals") if seed.get("end") == index.end else None
        return _Stored(index, index.extent(), previous, totals)

    def writer(self, experiment: str, evaluation: str, lease: Lease) -> _Writer:
        directory, stem, path = self._paths(experiment, evaluation)
        handle = open(path, "ab")  # noqa: SIM115 - the writer closes it
        end = self._index(path).end  # where the last complete line ends
        if handle.tell() > end:  # a killed run left half a line: cut it before appending
            handle.truncate(end)
        return _Writer(directory, stem, lease, handle, experiment, evaluation)

    def release(self, experiment: str, evaluation: str, lease: Lease, status: str) -> None:
        directory, stem, _ = self._paths(experiment, evaluation)
        meta_path = os.path.join(directory, stem + ".meta.json")
        with _locked(directory):
            meta = _read_json(meta_path)
            holder = Lease.from_json(meta.get("lease"))
            if holder is not None and holder.token == lease.token:
                meta.update(status=status, lease=None)
                _write_json(meta_path, meta)

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
        _, _, path = self._paths(experiment, evaluation)
        if not os.path.exists(path):
            return
        index = self._index(path)
        ok = False if errors_only else True if successes_only else None
        with open(path, "rb") as handle:
            for offset in index.offsets(start, stop, ok):
                handle.seek(offset)
                try:
                    record = record_from_document(json.loads(handle.readline()))
                except (ValueError, KeyError, TypeError) as exc:
                    raise StorageError(
                        f"{path}: the line at byte {offset} is not a doteval record ({exc}); "
                        f"remove or repair that line"
                    ) from None
                yield record

    def rename(self, old: str, new: str, admit: Admit) -> None:
        source = self._directory(old)
        target = self._directory(new, exists=False)
        with _locked(source):
            self._admit_all(source, admit)
            if os.path.exists(target):
                raise ExperimentExistsError(new)
            os.rename(source, target)
            self._forget(source)
            marker = os.path.join(target, _EXPERIMENT_FILE)
            _write_json(marker, {**_read_json(marker), "name": new})

    def delete(self, experiment: str, admit: Admit) -> None:
        directory = self._directory(experiment)
        with _locked(directory):
            self._admit_all(directory, admit)
            shutil.rmtree(directory)
            self._forget(directory)

    @staticmethod
    def _admit_all(directory: str, admit: Admit) -> None:
        for entry in os.listdir(directory):
            if entry.endswith(".meta.json"):
                meta = _read_json(os.path.join(directory, entry))
                admit(meta["name"], Lease.from_json(meta.get("lease")))


def _close_indexes(indexes: Mapping[str, LineIndex]) -> None:
    for index in indexes.values():
        index.close()


def open_backend(url: str) -> JsonlStorage:
    """The factory of ``jsonl://DIR``."""
    return JsonlStorage(local_path(url))
