"""``jsonl://DIR``: one append-only JSON-lines file per evaluation, readable with ``jq``.

``DIR/EXPERIMENT/EVALUATION.jsonl`` holds one line per record; a later line for an
item supersedes earlier ones. ``EVALUATION.meta.json`` beside it holds the status,
times, options, totals and the lease; it is replaced atomically, under a lock file.
A shard of an evaluation run in shards appends to ``EVALUATION.shard-I-of-N.jsonl``
and keeps its lease and totals under ``shards`` in the meta file, which lists the
record files under ``files``; reading merges them (see ``MergedIndex``). A big
record file's index is kept beside it as ``FILE.index`` (see ``saved_index``).
``DIR/.doteval-store.json`` holds the store's format version (a store without it was
written before versions were kept: format 1, read the same way).
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
import warnings
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any, ClassVar

import attrs

from doteval._private.errors import (
    EvaluationBusyError,
    ExperimentExistsError,
    StorageError,
    StorageWarning,
    UnknownNameError,
)
from doteval._private.results.records import Counts, Record
from doteval._private.storage.backends.line_index import LineIndex, MergedIndex
from doteval._private.storage.backends.watched_file import WatchedFile
from doteval._private.storage.estimates_json import (
    Estimates,
    estimates_from_json,
    estimates_to_json,
)
from doteval._private.storage.holders import describe_process, how_to_free
from doteval._private.storage.lease import Lease
from doteval._private.storage.naming import file_stem, legacy_file_stem
from doteval._private.storage.policy import verify_holder
from doteval._private.storage.protocol import (
    Admit,
    EvaluationInfo,
    ExperimentInfo,
    ShardInfo,
    StoredItem,
)
from doteval._private.storage.serialize import RecordEncoder, record_from_document
from doteval._private.storage.shard import Shard
from doteval._private.storage.status import RUNNING
from doteval._private.storage.urls import local_path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one writer per experiment directory
    fcntl = None  # type: ignore[assignment]

_EXPERIMENT_FILE = ".experiment.json"
_LOCK_FILE = ".lock"
_STORE_FILE = ".doteval-store.json"

FORMAT = 3
"""The newest format this code reads and writes: format 2 bounds long evaluation names'
file names (format 1 stores read the same); format 3 adds the files of shards, which an
older doteval would not read. A store is marked with format 3 once a shard writes to it."""

_UNSHARDED_FORMAT = 2
"""The format of a store no shard wrote to (an older doteval reads it)."""


def os_error(error: OSError, path: str) -> StorageError:
    """What went wrong with a file of the store, said first (the system's words after)."""
    if error.errno == errno.ENOSPC:
        return StorageError(
            f"disk full at {path}: free some space, then run again with the same "
            f"experiment= to finish the run; what is stored is kept"
        )
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StorageError(
            f"{path} is read-only ({error.strerror}): doteval can list, show and export the "
            f"store, but not write to it; give the process write access, or copy the store"
        )
    if error.errno == errno.ENAMETOOLONG:
        return StorageError(f"{path}: the file system refuses so long a name")
    return StorageError(f"{path}: {error.strerror or error}")


@contextlib.contextmanager
def _translating(path: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise os_error(exc, path) from None


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
    with contextlib.suppress(OSError):  # only a courtesy to waiters: a full disk may refuse it
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
    """A meta file's JSON; a damaged one is an error naming the file and the fix."""
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except ValueError as exc:
        raise StorageError(
            f"{path} is damaged ({exc}), so doteval cannot tell what it held; run "
            f"`doteval check` to see what is intact, or restore the file from a backup"
        ) from None
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise os_error(exc, path) from None
    if not isinstance(value, dict):
        raise StorageError(
            f"{path} is damaged (it holds {type(value).__name__}, not a JSON object); run "
            f"`doteval check` to see what is intact, or restore the file from a backup"
        )
    return value


def _write_json(path: str, value: Any) -> None:
    temporary = f"{path}.{os.getpid()}.tmp"
    with _translating(path):
        try:
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump(value, handle, default=repr)
            os.replace(temporary, path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _shard_file(stem: str, shard: Shard | None) -> str:
    """The name of the record file a run of ``shard`` (``None``: of the whole) appends to."""
    if shard is None:
        return stem + ".jsonl"
    return f"{stem}.shard-{shard.index}-of-{shard.count}.jsonl"


def _record_files(meta: Mapping[str, Any] | None, stem: str) -> list[str]:
    """The names of the evaluation's record files, the file of the run last begun last."""
    files = (meta or {}).get("files")
    if isinstance(files, list) and files and all(isinstance(name, str) for name in files):
        return [os.path.basename(name) for name in files]
    return [stem + ".jsonl"]


def _slot(meta: dict[str, Any], shard: Shard | None) -> dict[str, Any] | None:
    """The part of the meta file that holds a run's lease and totals: the whole file, or
    its shard's entry (``None`` if the shard never ran)."""
    if shard is None:
        return meta
    found = (meta.get("shards") or {}).get(str(shard))
    return found if isinstance(found, dict) else None


def _holders(meta: Mapping[str, Any]) -> list[Lease | None]:
    """The evaluation's lease and each of its shards'."""
    shards = meta.get("shards") or {}
    return [
        Lease.from_json(meta.get("lease")),
        *(Lease.from_json(entry.get("lease")) for entry in shards.values()),
    ]


def _shard_infos(meta: Mapping[str, Any]) -> tuple[ShardInfo, ...]:
    found = []
    for key, entry in (meta.get("shards") or {}).items():
        try:
            shard = Shard.parse(key, "a shard in the meta file: ")
        except ValueError:
            continue
        counts = entry.get("counts")
        found.append(
            ShardInfo(
                shard=shard,
                status=entry.get("status", RUNNING),
                started_at=entry.get("started_at"),
                ended_at=entry.get("ended_at"),
                counts=Counts(**counts) if counts else None,
                holder=Lease.from_json(entry.get("lease")),
                expected=entry.get("expected"),
            )
        )
    return tuple(sorted(found, key=lambda info: info.shard.order))


@attrs.define(eq=False, repr=False)
class _Stored:
    index: MergedIndex
    extent: int
    previous: str | None = None
    seed: Mapping[str, Any] | None = None

    def fetch(self, start: int, stop: int | None, count: int) -> Sequence[StoredItem]:
        return self.index.stored(start, stop, count)


@attrs.define(eq=False, repr=False)
class _Writer:
    directory: str
    stem: str
    lease: Lease
    handle: IO[bytes]
    experiment: str
    evaluation: str
    index: LineIndex
    """The index of the file this writer appends to: it notes each line written."""
    keeps_seed: bool = True
    keeps_estimates: bool = True
    encoder: RecordEncoder = attrs.field(factory=RecordEncoder)
    _file: WatchedFile = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._file = WatchedFile(str(self.handle.name))

    def _meta_path(self) -> str:
        return os.path.join(self.directory, self.stem + ".meta.json")

    @contextlib.contextmanager
    def _meta(self) -> Iterator[dict[str, Any]]:
        """The part of the meta file this run changes (the whole, or its shard's entry),
        only while this run still holds the lease (so a run taken over never writes
        another line), saved when the block ends."""
        with self._file.writing(), _translating(self._file.path), _locked(self.directory):
            meta = _read_json(self._meta_path())
            slot = _slot(meta, self.lease.shard)
            verify_holder(
                None if slot is None else Lease.from_json(slot.get("lease")),
                self.lease,
                self.experiment,
                self.evaluation,
            )
            assert slot is not None
            yield slot
            _write_json(self._meta_path(), meta)

    def write(
        self,
        batch: Sequence[tuple[Record, int]],
        counts: Counts,
        seed: Mapping[str, Any] | None,
    ) -> str | None:
        encode = self.encoder.document
        lines = [
            encode(record, row_hash=hashed, ok=record.error is None, epoch=record.epoch)
            for record, hashed in batch
        ]
        self.lease = self.lease.beat()
        with self._meta() as meta:
            if lines:
                data = [line.encode("utf-8", "surrogatepass") + b"\n" for line in lines]
                start = offset = self.handle.seek(0, os.SEEK_END)  # appends land there
                entries = []
                for (record, hashed), line in zip(batch, data, strict=True):
                    entries.append(
                        (record.item_id, record.epoch, offset, hashed, record.error is None)
                    )
                    offset += len(line)
                written = b"".join(data)
                self.handle.write(written)
                self.handle.flush()
                self.index.note(start, entries, written)
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
        estimates: Estimates | None = None,
        expected: int | None = None,
    ) -> None:
        with self._meta() as meta:
            meta.update(status=status, ended_at=time.time(), counts=attrs.asdict(counts))
            if self.lease.shard is None:
                meta.update(summary=summary, estimates=estimates_to_json(estimates))
            else:
                meta.update(expected=expected)
            meta["lease"] = None

    def close(self) -> None:
        self.handle.close()
        self.index.save()


@attrs.define(eq=False, repr=False)
class JsonlStorage:
    """``jsonl://DIR``: a directory per experiment, a JSON-lines file per evaluation."""

    root: str
    url: str = ""
    stores_epochs: ClassVar[bool] = True
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

    @staticmethod
    def _stem(directory: str, evaluation: str) -> str:
        """The evaluation's file name stem; a long name stored before stems were bounded
        keeps the stem it was stored under."""
        stem = file_stem(evaluation)
        legacy = legacy_file_stem(evaluation)
        if legacy != stem and os.path.exists(os.path.join(directory, legacy + ".meta.json")):
            return legacy
        return stem

    def _paths(self, experiment: str, evaluation: str) -> tuple[str, str, str]:
        directory = self._directory(experiment)
        stem = self._stem(directory, evaluation)
        meta = os.path.join(directory, stem + ".meta.json")
        if not os.path.exists(meta):
            raise UnknownNameError(
                f"{evaluation} of experiment {experiment!r} is not in {self.url}"
            )
        return directory, stem, meta

    def _merged(self, directory: str, stem: str, meta: Mapping[str, Any] | None) -> MergedIndex:
        """The evaluation's record files, read as one."""
        return MergedIndex(
            [self._index(os.path.join(directory, name)) for name in _record_files(meta, stem)]
        )

    def _info(self, directory: str, experiment: str, meta: Mapping[str, Any]) -> EvaluationInfo:
        counts = Counts(**meta["counts"]) if meta.get("counts") else None
        shards = _shard_infos(meta)
        if counts is None and shards:  # run in shards: count what is stored
            stem = self._stem(directory, meta["name"])
            total, errors = self._merged(directory, stem, meta).tally()
            counts = Counts(total, errors, 0, 0)
        return EvaluationInfo(
            experiment=experiment,
            name=meta["name"],
            status=meta.get("status", RUNNING),
            started_at=meta.get("started_at"),
            ended_at=meta.get("ended_at"),
            metadata=meta.get("metadata") or {},
            counts=counts,
            summary=meta.get("summary"),
            estimates=estimates_from_json(meta.get("estimates")),
            holder=Lease.from_json(meta.get("lease")),
            shards=shards,
        )

    def evaluation(self, experiment: str, name: str) -> EvaluationInfo | None:
        directory = os.path.join(self.root, experiment)
        path = os.path.join(directory, self._stem(directory, name) + ".meta.json")
        try:
            return self._info(directory, experiment, _read_json(path))
        except FileNotFoundError:
            return None

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
                except FileNotFoundError:
                    continue  # deleted meanwhile
                except StorageError as exc:  # one damaged file hides nothing else
                    warnings.warn(str(exc), StorageWarning, stacklevel=3)
                    continue
                evaluations.append(self._info(directory, name, meta))
            found.append(ExperimentInfo(name, self._created(directory), tuple(evaluations)))
        return sorted(found, key=lambda info: (-info.created_at, info.name))

    @staticmethod
    def _created(directory: str) -> float:
        """When the experiment was created; its directory's time if the marker is damaged."""
        try:
            return float(_read_json(os.path.join(directory, _EXPERIMENT_FILE))["created_at"])
        except (StorageError, KeyError, TypeError, ValueError) as exc:
            warnings.warn(str(exc), StorageWarning, stacklevel=4)
            return os.path.getmtime(directory)

    def _claim_format(self, needed: int) -> None:
        """Mark the store with the format its readers need, when first writing to it and
        when a shard first writes to it (under the store's lock: two runs claiming at once
        must not leave the lower mark)."""

        def marked() -> int | None:
            try:
                version = _read_json(marker).get("format")
            except FileNotFoundError:
                return None
            return version if isinstance(version, int) else None

        marker = os.path.join(self.root, _STORE_FILE)
        found = marked()
        if found is not None and found >= needed:
            return
        with _translating(self.root), _locked(self.root):
            found = marked()
            if found is None or found < needed:
                _write_json(marker, {"format": needed})

    def begin(
        self,
        experiment: str,
        evaluation: str,
        lease: Lease,
        metadata: Mapping[str, Any],
        admit: Admit,
    ) -> _Stored:
        shard = lease.shard
        directory = self._directory(experiment, exists=False)
        with _translating(directory):
            os.makedirs(directory, exist_ok=True)
        self._claim_format(_UNSHARDED_FORMAT if shard is None else FORMAT)
        stem = self._stem(directory, evaluation)
        with _translating(directory), _locked(directory):
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
                for holder in _holders(meta):
                    admit(evaluation, holder)
                previous = meta.get("status", RUNNING)
            meta.update(status=RUNNING, metadata=dict(metadata))
            meta["ended_at"] = None
            mine = _shard_file(stem, shard)
            files = [name for name in _record_files(meta, stem) if name != mine]
            meta["files"] = [*files, mine]  # the run begun last wins ties (MergedIndex)
            if shard is None:
                meta["lease"] = lease.to_json()
                meta.pop("shards", None)  # the whole evaluation is one run again
            else:
                # The totals of the whole are no longer those of what is stored, nor are
                # the seeds of shards of another count (they may overlap this one).
                meta.update(counts=None, summary=None, estimates=None, seed=None)
                shards = meta.setdefault("shards", {})
                for key, entry in shards.items():
                    if Shard.parse(key, "a shard in the meta file: ").count != shard.count:
                        entry["seed"] = None
                entry = shards.get(str(shard))
                previous = None if entry is None else entry.get("status", RUNNING)
                entry = shards[str(shard)] = {**(entry or {}), "started_at": time.time()}
                entry.update(status=RUNNING, lease=lease.to_json(), ended_at=None)
            _write_json(meta_path, meta)
        index = self._merged(directory, stem, meta)
        own = self._index(os.path.join(directory, mine))
        slot = _slot(meta, shard) or {}
        seed = slot.get("seed") or {}
        totals = seed.get("totals") if seed.get("end") == own.end else None
        return _Stored(index, index.extent(), previous, totals)

    def writer(self, experiment: str, evaluation: str, lease: Lease) -> _Writer:
        directory, stem, _ = self._paths(experiment, evaluation)
        path = os.path.join(directory, _shard_file(stem, lease.shard))
        with _translating(path):
            handle = open(path, "ab")  # noqa: SIM115 - the writer closes it
        index = self._index(path)
        end = index.end  # where the last complete line ends
        if handle.tell() > end:  # a killed run left half a line: cut it before appending
            handle.truncate(end)
        return _Writer(directory, stem, lease, handle, experiment, evaluation, index)

    def release(self, experiment: str, evaluation: str, lease: Lease, status: str) -> None:
        directory, _, meta_path = self._paths(experiment, evaluation)
        with _locked(directory):
            meta = _read_json(meta_path)
            slot = _slot(meta, lease.shard)
            holder = None if slot is None else Lease.from_json(slot.get("lease"))
            if slot is not None and holder is not None and holder.token == lease.token:
                slot.update(status=status, lease=None)
                _write_json(meta_path, meta)

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
        directory, stem, meta_path = self._paths(experiment, evaluation)
        with _translating(directory), _locked(directory):
            meta = _read_json(meta_path)
            for holder in _holders(meta):
                admit(evaluation, holder)
            if self._merged(directory, stem, meta).tally() != (counts.total, counts.errors):
                return False
            meta.update(
                status=status,
                ended_at=time.time(),
                counts=attrs.asdict(counts),
                summary=summary,
                estimates=estimates_to_json(estimates),
                seed=None,
            )
            _write_json(meta_path, meta)
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
        directory, stem, meta_path = self._paths(experiment, evaluation)
        names = _record_files(_read_json(meta_path), stem)
        paths = [os.path.join(directory, name) for name in names]
        present = [path for path in paths if os.path.exists(path)]
        if not present:
            return
        index = MergedIndex([self._index(path) for path in present])
        ok = False if errors_only else True if successes_only else None
        with contextlib.ExitStack() as stack:
            handles = [stack.enter_context(open(path, "rb")) for path in present]
            for rank, offset in index.offsets(start, stop, ok):
                handle = handles[rank]
                handle.seek(offset)
                try:
                    record = record_from_document(json.loads(handle.readline()))
                except (ValueError, KeyError, TypeError) as exc:
                    raise StorageError(
                        f"{present[rank]}: the line at byte {offset} is not a doteval record "
                        f"({exc}); remove or repair that line"
                    ) from None
                yield record

    def count(self, experiment: str, evaluation: str) -> int:
        directory, stem, meta_path = self._paths(experiment, evaluation)
        return self._merged(directory, stem, _read_json(meta_path)).tally()[0]

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
                for holder in _holders(meta):
                    admit(meta["name"], holder)


def _close_indexes(indexes: Mapping[str, LineIndex]) -> None:
    for index in indexes.values():
        index.close()


def open_backend(url: str) -> JsonlStorage:
    """The factory of ``jsonl://DIR``; a store written by a newer doteval is refused."""
    root = local_path(url)
    marker = os.path.join(root, _STORE_FILE)
    try:
        version = _read_json(marker).get("format", FORMAT)
    except FileNotFoundError:
        version = 1
    if not isinstance(version, int) or version > FORMAT:
        raise StorageError(
            f"{root} was written by a newer doteval (store format {version}; this doteval "
            f"reads up to {FORMAT}): upgrade doteval to use it"
        )
    return JsonlStorage(root)
