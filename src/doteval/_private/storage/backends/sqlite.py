"""The default store: one SQLite file in WAL mode, safe with several processes writing."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import attrs

from doteval._private.errors import (
    EvaluationBusyError,
    ExperimentExistsError,
    StorageError,
    UnknownNameError,
)
from doteval._private.results.records import Counts, Record
from doteval._private.storage.backends.shard_rows import SHARD_COLUMNS, shard_info
from doteval._private.storage.backends.sqlite_schema import (
    SCHEMA_VERSION,
    is_busy,
    read_format,
    unreadable,
    upgrade,
)
from doteval._private.storage.backends.watched_file import WatchedFile
from doteval._private.storage.estimates_json import (
    Estimates,
    estimates_from_json,
    estimates_to_json,
)
from doteval._private.storage.holders import describe_process, how_to_free, may_be_running
from doteval._private.storage.lease import Lease
from doteval._private.storage.policy import verify_holder
from doteval._private.storage.protocol import (
    Admit,
    EvaluationInfo,
    ExperimentInfo,
    ShardInfo,
    StoredItem,
)
from doteval._private.storage.serialize import RecordEncoder, decode_record
from doteval._private.storage.status import RUNNING
from doteval._private.storage.urls import local_path

BUSY_TIMEOUT = 5.0
"""Seconds a writer waits for another connection's write transaction before raising
``EvaluationBusyError``; a healthy transaction (one batch, one heartbeat) takes milliseconds."""


_ITEM_COLUMNS = ("evaluation_id", "item_id", "epoch", "row_hash", "ok", "body")
ROWS_PER_INSERT = 166
"""Records one INSERT writes: many rows a statement step (each step lets go of the
interpreter and takes it back, while the event loop wants it), and at most 999
parameters, the limit of SQLite before 3.32."""


@functools.lru_cache(maxsize=8)
def _insert_items(rows: int) -> str:
    """An INSERT of ``rows`` records (the statement of a full chunk is reused, and stays
    in the connection's statement cache)."""
    placeholders = "(" + ", ".join("?" * len(_ITEM_COLUMNS)) + ")"
    return f"INSERT OR REPLACE INTO items ({', '.join(_ITEM_COLUMNS)}) VALUES " + ", ".join(
        [placeholders] * rows
    )


def _use_wal(connection: sqlite3.Connection) -> None:
    """Switch a new file to WAL mode.

    While another connection is setting up the same new file (two runs starting at
    once), sqlite answers "locked" at once instead of calling its busy handler, so
    this waits here as any writer would.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            if time.monotonic() > deadline:
                raise _busy(connection) from None
            time.sleep(0.005)


def _connect(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
    )
    connection.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across crashes
    return connection


def _counts(text: str | None) -> Counts | None:
    return None if text is None else Counts(**json.loads(text))


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=repr)


SQLITE_READONLY, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_NOTADB = 8, 11, 13, 26
"""SQLite's primary result codes (fixed by its C API). Python's ``sqlite3`` names them, and
gives an error its code, from 3.11 on only; before that the message alone tells."""


def storage_error(error: sqlite3.Error, path: str) -> StorageError:
    """What went wrong with the file, said first and alone (SQLite's own words after)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        code &= 0xFF  # an extended code (SQLITE_CORRUPT_INDEX...) carries its primary one
    text = str(error)
    if code == SQLITE_FULL or "disk is full" in text:
        return StorageError(
            f"disk full at {path}: free some space, then run again with the same "
            f"experiment= to finish the run; what is stored is kept"
        )
    if code == SQLITE_READONLY or "readonly" in text:
        return StorageError(
            f"{path} is read-only ({text}): doteval can list, show and export it, but "
            f"not write to it; give the process write access, or copy the file"
        )
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB) or "malformed" in text:
        return StorageError(
            f"{path} is damaged ({text}): run `doteval check --storage sqlite://{path}` "
            f"to see what is intact, or restore the file from a backup"
        )
    return StorageError(f"{path}: SQLite failed: {text}")


@contextlib.contextmanager
def _translating(path: str) -> Iterator[None]:
    """SQLite's errors as ``StorageError``s that name the file and the fix."""
    try:
        yield
    except sqlite3.Error as exc:
        raise storage_error(exc, path) from None


@attrs.define(eq=False, repr=False)
class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``: writers queue on the file lock, never deadlock.

    The write lock is held for this block only: callers encode, read and wait outside
    it. A failed statement or commit rolls back and is reported as itself: SQLite may
    have rolled back already (a full disk does), and a second rollback's "no
    transaction is active" must not hide the cause.
    """

    connection: sqlite3.Connection
    path: str

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if is_busy(exc):
                raise _busy(self.connection) from None
            raise storage_error(exc, self.path) from None
        except sqlite3.Error as exc:
            raise storage_error(exc, self.path) from None
        return self.connection

    def __exit__(self, kind: object, error: BaseException | None, *rest: object) -> None:
        if kind is None:
            try:
                self.connection.execute("COMMIT")
                return
            except sqlite3.Error as exc:
                error = exc
        if self.connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.connection.execute("ROLLBACK")
        if isinstance(error, sqlite3.Error):
            raise storage_error(error, self.path) from None


def _busy(connection: sqlite3.Connection) -> EvaluationBusyError:
    """Who likely holds the write lock: WAL lets this connection read the live leases."""
    path = "the SQLite store"
    holders: list[str] = []
    pids: list[int] = []
    try:
        for _, name, file in connection.execute("PRAGMA database_list"):
            if name == "main" and file:
                path = file
        rows = connection.execute(
            "SELECT experiments.name, evaluations.name, evaluations.lease FROM evaluations "
            "JOIN experiments ON experiments.id = evaluations.experiment_id "
            "WHERE evaluations.lease IS NOT NULL ORDER BY evaluations.name"
        ).fetchall()
        rows += connection.execute(
            "SELECT experiments.name, evaluations.name, shards.lease FROM shards "
            "JOIN evaluations ON evaluations.id = shards.evaluation_id "
            "JOIN experiments ON experiments.id = evaluations.experiment_id "
            "WHERE shards.lease IS NOT NULL ORDER BY evaluations.name"
        ).fetchall()
    except sqlite3.Error:
        rows = []
    me = (os.getpid(), socket.gethostname())
    for experiment, evaluation, held in rows:
        lease = _lease(held)
        if (
            lease is None
            or (lease.pid, lease.host) == me
            or not may_be_running(lease.pid, lease.host, lease.heartbeat)
        ):
            continue
        pids.append(lease.pid)
        holders.append(
            f"{describe_process(lease.pid, lease.host)} runs {evaluation} of experiment "
            f"{experiment!r} (last heartbeat {time.time() - lease.heartbeat:.0f} s ago)"
        )
    who = (
        "; ".join(holders)
        if holders
        else "no other process runs an evaluation of it, so another program holds the "
        "lock (a sqlite3 shell, a backup, a `doteval delete`)"
    )
    return EvaluationBusyError(
        f"{path} stayed locked by another connection's write transaction for "
        f"{BUSY_TIMEOUT:g} s (a healthy one takes milliseconds); {who}. {how_to_free(pids)}"
    )


@attrs.define(eq=False, repr=False)
class _Stored:
    path: str
    evaluation_id: int
    previous: str | None
    extent: int
    seed: Mapping[str, Any] | None

    def fetch(self, start: int, stop: int | None, count: int) -> Sequence[StoredItem]:
        connection = _connect(self.path)
        try:
            with _translating(self.path):
                rows = connection.execute(
                    "SELECT item_id, row_hash, ok, epoch FROM items WHERE evaluation_id = ? "
                    "AND item_id >= ? AND item_id < ? ORDER BY item_id, epoch LIMIT ?",
                    (self.evaluation_id, start, 2**62 if stop is None else stop, count),
                ).fetchall()
        finally:
            connection.close()
        return rows  # ``ok`` stays 0 or 1: only its truth is used


def _lease(text: str | None) -> Lease | None:
    return Lease.from_json(json.loads(text)) if text else None


_SHARD_ROW = "shards WHERE evaluation_id = ? AND shard_count = ? AND shard_index = ?"


def _set(table: str, assignments: str) -> str:
    """``table WHERE ...`` as ``table SET assignments WHERE ...``."""
    name, _, where = table.partition(" WHERE ")
    return f"{name} SET {assignments} WHERE {where}"


@attrs.define(eq=False, repr=False)
class _Writer:
    connection: sqlite3.Connection
    path: str
    evaluation_id: int
    lease: Lease
    experiment: str
    evaluation: str
    keeps_seed: bool = True
    keeps_estimates: bool = True
    encoder: RecordEncoder = attrs.field(factory=RecordEncoder)
    _file: WatchedFile = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._file = WatchedFile(self.path)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A transaction on the file this writer opened, not on whatever its path names
        now: a deleted store would take the writes where nobody can read them."""
        with self._file.writing(), _Transaction(self.connection, self.path) as connection:
            yield connection

    def _row(self) -> tuple[str, tuple[int, ...]]:
        """Where this run's lease and totals live: the evaluation's row, or its shard's."""
        shard = self.lease.shard
        if shard is None:
            return "evaluations WHERE id = ?", (self.evaluation_id,)
        return _SHARD_ROW, (self.evaluation_id, shard.count, shard.index)

    def write(
        self,
        batch: Sequence[tuple[Record, int]],
        counts: Counts,
        seed: Mapping[str, Any] | None,
    ) -> str | None:
        encode = self.encoder.compact
        evaluation_id = self.evaluation_id
        values: list[Any] = []
        for record, hashed in batch:
            values += (
                evaluation_id,
                record.item_id,
                record.epoch,
                hashed,
                record.error is None,
                encode(record),
            )
        self.lease = self.lease.beat()
        with self._transaction() as connection:
            self._check_lease(connection)
            step = ROWS_PER_INSERT * len(_ITEM_COLUMNS)
            for start in range(0, len(values), step):
                chunk = values[start : start + step]
                connection.execute(_insert_items(len(chunk) // len(_ITEM_COLUMNS)), chunk)
            table, key = self._row()
            connection.execute(
                f"UPDATE {_set(table, 'counts = ?, seed = ?, lease = ?')}",
                (_json(attrs.asdict(counts)), _json(seed), _json(self.lease.to_json()), *key),
            )
        return self.encoder.replaced

    def _check_lease(self, connection: sqlite3.Connection) -> None:
        table, key = self._row()
        row = connection.execute(f"SELECT lease FROM {table}", key).fetchone()
        verify_holder(
            _lease(row[0]) if row else None,
            self.lease,
            self.experiment,
            self.evaluation,
            exists=row is not None,
        )

    def heartbeat(self) -> None:
        self.lease = self.lease.beat()
        with self._transaction() as connection:
            self._check_lease(connection)
            table, key = self._row()
            connection.execute(
                f"UPDATE {_set(table, 'lease = ?')}", (_json(self.lease.to_json()), *key)
            )

    def finish(
        self,
        status: str,
        counts: Counts,
        summary: Mapping[str, Mapping[str, Any]] | None,
        estimates: Estimates | None = None,
        expected: int | None = None,
    ) -> None:
        with self._transaction() as connection:
            self._check_lease(connection)
            if self.lease.shard is not None:
                table, key = self._row()
                ended = "status = ?, ended_at = ?, counts = ?, expected = ?, lease = NULL"
                connection.execute(
                    f"UPDATE {_set(table, ended)}",
                    (status, time.time(), _json(attrs.asdict(counts)), expected, *key),
                )
                return
            connection.execute(
                "UPDATE evaluations SET status = ?, ended_at = ?, counts = ?, summary = ?, "
                "estimates = ?, lease = NULL WHERE id = ?",
                (
                    status,
                    time.time(),
                    _json(attrs.asdict(counts)),
                    _json(summary),
                    _json(estimates_to_json(estimates)),
                    self.evaluation_id,
                ),
            )

    def close(self) -> None:
        self.connection.close()


@attrs.define(eq=False, repr=False)
class SqliteStorage:
    """``sqlite://PATH``: experiments, evaluations and items in one database file."""

    path: str
    url: str
    read_only: bool = False
    stores_epochs: ClassVar[bool] = True
    """The file or its directory cannot be written: reading works, running does not."""
    version: int = SCHEMA_VERSION
    """The file's format: an older one is read as it is when it cannot be migrated."""

    @classmethod
    def open(cls, path: str) -> SqliteStorage:
        """The store at ``path``, set up or migrated to the current format if it must be."""
        directory = os.path.dirname(path)
        if directory and not os.path.isdir(directory):
            try:
                os.makedirs(directory, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"cannot create the store's directory {directory}: {exc.strerror}; "
                    f"point storage= or DOTEVAL_STORAGE at a writable place"
                ) from None
        writable = os.access(directory or ".", os.W_OK) and (
            not os.path.exists(path) or os.access(path, os.W_OK)
        )
        store = cls(path, f"sqlite://{path}", read_only=not writable)
        if store.read_only:
            if not os.path.exists(path):
                raise StorageError(f"{path} does not exist, and its directory is read-only")
            connection = store._connect()
            try:
                store.version = read_format(connection, path)  # refuse one not doteval's
            finally:
                connection.close()
            return store
        try:
            connection = _connect(path)
        except sqlite3.DatabaseError as exc:
            raise unreadable(path, exc) from None
        try:
            if read_format(connection, path) < SCHEMA_VERSION:
                _use_wal(connection)
                with _Transaction(connection, path):  # another run may be setting it up too
                    upgrade(connection, path)
        except sqlite3.Error as exc:
            if is_busy(exc):
                raise _busy(connection) from None
            raise storage_error(exc, path) from None
        finally:
            connection.close()
        return store

    def _connect(self) -> sqlite3.Connection:
        if not self.read_only:
            return _connect(self.path)
        # A read-only WAL store still needs its shared-memory file: "immutable" reads the
        # file as it is on disk, which is all a read-only store can be.
        return sqlite3.connect(
            f"file:{urllib.parse.quote(self.path)}?mode=ro&immutable=1",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
        )

    def _writable(self) -> None:
        if self.read_only:
            raise StorageError(
                f"{self.path} is read-only: doteval can list, show and export it, but not "
                f"run, rename or delete in it; give the process write access, or copy the "
                f"file and use the copy"
            )

    @property
    def _evaluation_columns(self) -> str:
        # Format 1 kept no estimates: a read-only store of it is read as it is.
        estimates = "estimates" if self.version >= 2 else "NULL"
        return (
            "evaluations.experiment_id, evaluations.name, status, started_at, ended_at, "
            f"metadata, counts, summary, lease, evaluations.id, {estimates}"
        )

    def _shards(
        self, connection: sqlite3.Connection, evaluation_id: int | None = None
    ) -> dict[int, tuple[ShardInfo, ...]]:
        """The shards of one evaluation, or of all, by evaluation id."""
        if self.version < 3:  # a read-only store of a format before shards
            return {}
        query = f"SELECT {SHARD_COLUMNS} FROM shards"
        if evaluation_id is not None:
            query += f" WHERE evaluation_id = {int(evaluation_id)}"
        found: dict[int, list[ShardInfo]] = {}
        for row in connection.execute(query + " ORDER BY evaluation_id, shard_count, shard_index"):
            found.setdefault(row[0], []).append(shard_info(row))
        return {key: tuple(infos) for key, infos in found.items()}

    def _info(
        self,
        connection: sqlite3.Connection,
        experiment: str,
        row: Any,
        shards: tuple[ShardInfo, ...] = (),
    ) -> EvaluationInfo:
        counts = _counts(row[6])
        if counts is None:  # killed before its first flush wrote them, or run in shards
            counts = self._count(connection, row[9])
        return EvaluationInfo(
            experiment=experiment,
            name=row[1],
            status=row[2],
            started_at=row[3],
            ended_at=row[4],
            metadata=json.loads(row[5]),
            counts=counts,
            summary=json.loads(row[7]) if row[7] else None,
            holder=_lease(row[8]),
            estimates=estimates_from_json(json.loads(row[10])) if row[10] else None,
            shards=shards,
        )

    def experiments(self) -> list[ExperimentInfo]:
        connection = self._connect()
        try:
            with _translating(self.path):
                experiments = connection.execute(
                    "SELECT id, name, created_at FROM experiments ORDER BY created_at DESC, name"
                ).fetchall()
                evaluations = connection.execute(
                    f"SELECT {self._evaluation_columns} FROM evaluations ORDER BY name"
                ).fetchall()
                shards = self._shards(connection)
                by_experiment: dict[int, list[EvaluationInfo]] = {}
                names = {row[0]: row[1] for row in experiments}
                for row in evaluations:
                    info = self._info(
                        connection, names.get(row[0], "?"), row, shards.get(row[9], ())
                    )
                    by_experiment.setdefault(row[0], []).append(info)
        finally:
            connection.close()
        return [
            ExperimentInfo(name, created_at, tuple(by_experiment.get(key, ())))
            for key, name, created_at in experiments
        ]

    def evaluation(self, experiment: str, name: str) -> EvaluationInfo | None:
        connection = self._connect()
        try:
            with _translating(self.path):
                row = connection.execute(
                    f"SELECT {self._evaluation_columns} FROM evaluations JOIN experiments "
                    "ON experiments.id = evaluations.experiment_id "
                    "WHERE experiments.name = ? AND evaluations.name = ?",
                    (experiment, name),
                ).fetchone()
                if row is None:
                    return None
                shards = self._shards(connection, row[9]).get(row[9], ())
                return self._info(connection, experiment, row, shards)
        finally:
            connection.close()

    @staticmethod
    def _count(connection: sqlite3.Connection, evaluation_id: int) -> Counts:
        total, errors = connection.execute(
            "SELECT count(*), count(*) - coalesce(sum(ok), 0) FROM items WHERE evaluation_id = ?",
            (evaluation_id,),
        ).fetchone()
        return Counts(total, errors, 0, 0)

    def begin(
        self,
        experiment: str,
        evaluation: str,
        lease: Lease,
        metadata: Mapping[str, Any],
        admit: Admit,
    ) -> _Stored:
        self._writable()
        shard = lease.shard
        held_by = None if shard is not None else _json(lease.to_json())
        connection = self._connect()
        try:
            with _Transaction(connection, self.path):
                connection.execute(
                    "INSERT OR IGNORE INTO experiments (name, created_at) VALUES (?, ?)",
                    (experiment, time.time()),
                )
                (experiment_id,) = connection.execute(
                    "SELECT id FROM experiments WHERE name = ?", (experiment,)
                ).fetchone()
                row = connection.execute(
                    "SELECT id, lease, seed, status FROM evaluations "
                    "WHERE experiment_id = ? AND name = ?",
                    (experiment_id, evaluation),
                ).fetchone()
                if row is None:
                    admit(evaluation, None)
                    evaluation_id = connection.execute(
                        "INSERT INTO evaluations (experiment_id, name, status, started_at, "
                        "metadata, lease) VALUES (?, ?, ?, ?, ?, ?)",
                        (experiment_id, evaluation, RUNNING, time.time(), _json(metadata), held_by),
                    ).lastrowid
                    seed_text, previous, extent = None, None, 0
                else:
                    evaluation_id, held, seed_text, previous = row
                    admit(evaluation, _lease(held))
                    shards = connection.execute(
                        "SELECT shard_count, shard_index, lease, status, seed FROM shards "
                        "WHERE evaluation_id = ?",
                        (evaluation_id,),
                    ).fetchall()
                    for *_, shard_lease, _, _ in shards:
                        admit(evaluation, _lease(shard_lease))
                    (last,) = connection.execute(
                        "SELECT max(item_id) FROM items WHERE evaluation_id = ?", (evaluation_id,)
                    ).fetchone()
                    extent = 0 if last is None else last + 1
                    if shard is None:  # the whole evaluation is one run again
                        connection.execute(
                            "DELETE FROM shards WHERE evaluation_id = ?", (evaluation_id,)
                        )
                        connection.execute(
                            "UPDATE evaluations SET status = ?, metadata = ?, lease = ?, "
                            "ended_at = NULL WHERE id = ?",
                            (RUNNING, _json(metadata), held_by, evaluation_id),
                        )
                    else:
                        mine = [r for r in shards if (r[0], r[1]) == (shard.count, shard.index)]
                        previous, seed_text = (mine[0][3], mine[0][4]) if mine else (None, None)
                        # The totals of the whole are no longer those of what is stored, nor
                        # are the seeds of shards of another count (they may overlap this).
                        connection.execute(
                            "UPDATE evaluations SET status = ?, metadata = ?, ended_at = NULL, "
                            "counts = NULL, summary = NULL, estimates = NULL, seed = NULL "
                            "WHERE id = ?",
                            (RUNNING, _json(metadata), evaluation_id),
                        )
                        connection.execute(
                            "UPDATE shards SET seed = NULL WHERE evaluation_id = ? "
                            "AND shard_count != ?",
                            (evaluation_id, shard.count),
                        )
                if shard is not None:
                    connection.execute(
                        "INSERT INTO shards (evaluation_id, shard_count, shard_index, status, "
                        "started_at, lease) VALUES (?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (evaluation_id, shard_count, shard_index) DO UPDATE SET "
                        "status = excluded.status, started_at = excluded.started_at, "
                        "ended_at = NULL, lease = excluded.lease",
                        (
                            evaluation_id,
                            shard.count,
                            shard.index,
                            RUNNING,
                            time.time(),
                            _json(lease.to_json()),
                        ),
                    )
        finally:
            connection.close()
        assert evaluation_id is not None
        seed = json.loads(seed_text) if seed_text else None
        return _Stored(self.path, evaluation_id, previous, extent, seed)

    def count(self, experiment: str, evaluation: str) -> int:
        connection = self._connect()
        try:
            with _translating(self.path):
                evaluation_id = self._evaluation_id(connection, experiment, evaluation)
                (found,) = connection.execute(
                    "SELECT count(*) FROM items WHERE evaluation_id = ?", (evaluation_id,)
                ).fetchone()
        finally:
            connection.close()
        return int(found)

    def integrity(self) -> list[str]:
        connection = self._connect()
        try:
            with _translating(self.path):
                found = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        finally:
            connection.close()
        return [] if found == ["ok"] else [f"SQLite's integrity check: {line}" for line in found]

    def _evaluation_id(self, connection: sqlite3.Connection, experiment: str, name: str) -> int:
        row = connection.execute(
            "SELECT evaluations.id FROM evaluations JOIN experiments "
            "ON experiments.id = evaluations.experiment_id "
            "WHERE experiments.name = ? AND evaluations.name = ?",
            (experiment, name),
        ).fetchone()
        if row is None:
            raise UnknownNameError(f"{name} of experiment {experiment!r} is not in {self.url}")
        return int(row[0])

    def writer(self, experiment: str, evaluation: str, lease: Lease) -> _Writer:
        self._writable()
        connection = self._connect()
        try:
            with _translating(self.path):
                evaluation_id = self._evaluation_id(connection, experiment, evaluation)
        except BaseException:
            connection.close()
            raise
        return _Writer(connection, self.path, evaluation_id, lease, experiment, evaluation)

    def release(self, experiment: str, evaluation: str, lease: Lease, status: str) -> None:
        self._writable()
        connection = self._connect()
        try:
            with _Transaction(connection, self.path):
                evaluation_id = self._evaluation_id(connection, experiment, evaluation)
                key: tuple[int, ...] = (evaluation_id,)
                table = "evaluations WHERE id = ?"
                if lease.shard is not None:
                    table, key = _SHARD_ROW, (evaluation_id, lease.shard.count, lease.shard.index)
                connection.execute(
                    f"UPDATE {_set(table, 'status = ?, lease = NULL')} "
                    "AND json_extract(lease, '$.token') = ?",
                    (status, *key, lease.token),
                )
        finally:
            connection.close()

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
        self._writable()
        connection = self._connect()
        try:
            with _Transaction(connection, self.path):
                evaluation_id = self._evaluation_id(connection, experiment, evaluation)
                self._admit_evaluations(connection, "evaluations.id = ?", (evaluation_id,), admit)
                stored = self._count(connection, evaluation_id)
                if (stored.total, stored.errors) != (counts.total, counts.errors):
                    return False
                connection.execute(
                    "UPDATE evaluations SET status = ?, ended_at = ?, counts = ?, summary = ?, "
                    "estimates = ?, seed = NULL WHERE id = ?",
                    (
                        status,
                        time.time(),
                        _json(attrs.asdict(counts)),
                        _json(summary),
                        _json(estimates_to_json(estimates)),
                        evaluation_id,
                    ),
                )
                return True
        finally:
            connection.close()

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
        connection = self._connect()
        try:
            with _translating(self.path):
                evaluation_id = self._evaluation_id(connection, experiment, evaluation)
                order = "item_id, epoch" if self.version >= 2 else "item_id"
                condition = ""
                if errors_only or successes_only:
                    condition = f" AND ok = {0 if errors_only else 1}"
                cursor = connection.execute(
                    "SELECT body FROM items WHERE evaluation_id = ?1 AND item_id >= ?2 "
                    f"AND item_id < ?3{condition} ORDER BY {order}",
                    (evaluation_id, start, 2**62 if stop is None else stop),
                )
                for (body,) in cursor:
                    yield decode_record(body)
        finally:
            connection.close()

    def rename(self, old: str, new: str, admit: Admit) -> None:
        self._writable()
        connection = self._connect()
        try:
            with _Transaction(connection, self.path):
                self._admit_all(connection, self._experiment_id(connection, old), admit)
                taken = connection.execute(
                    "SELECT 1 FROM experiments WHERE name = ?", (new,)
                ).fetchone()
                if taken:
                    raise ExperimentExistsError(new)
                connection.execute("UPDATE experiments SET name = ? WHERE name = ?", (new, old))
        finally:
            connection.close()

    def delete(self, experiment: str, admit: Admit) -> None:
        self._writable()
        connection = self._connect()
        try:
            with _Transaction(connection, self.path):
                experiment_id = self._experiment_id(connection, experiment)
                for evaluation_id in self._admit_all(connection, experiment_id, admit):
                    connection.execute(
                        "DELETE FROM items WHERE evaluation_id = ?", (evaluation_id,)
                    )
                    connection.execute(
                        "DELETE FROM shards WHERE evaluation_id = ?", (evaluation_id,)
                    )
                connection.execute(
                    "DELETE FROM evaluations WHERE experiment_id = ?", (experiment_id,)
                )
                connection.execute("DELETE FROM experiments WHERE id = ?", (experiment_id,))
        finally:
            connection.close()

    def _admit_all(
        self, connection: sqlite3.Connection, experiment_id: int, admit: Admit
    ) -> list[int]:
        """``admit`` the holders of each evaluation of the experiment; their ids."""
        return self._admit_evaluations(
            connection, "evaluations.experiment_id = ?", (experiment_id,), admit
        )

    def _admit_evaluations(
        self, connection: sqlite3.Connection, where: str, key: tuple[int], admit: Admit
    ) -> list[int]:
        """``admit`` the holder of each evaluation ``where`` chooses, and of each of its
        shards; their ids."""
        rows = connection.execute(
            f"SELECT id, name, lease FROM evaluations WHERE {where}", key
        ).fetchall()
        for _, name, held in rows:
            admit(name, _lease(held))
        if self.version >= 3:
            for name, held in connection.execute(
                "SELECT evaluations.name, shards.lease FROM shards JOIN evaluations "
                f"ON evaluations.id = shards.evaluation_id WHERE {where}",
                key,
            ):
                admit(name, _lease(held))
        return [evaluation_id for evaluation_id, _, _ in rows]

    def _experiment_id(self, connection: sqlite3.Connection, name: str) -> int:
        row = connection.execute("SELECT id FROM experiments WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise UnknownNameError(f"no experiment {name!r} in {self.url}")
        return int(row[0])


def open_backend(url: str) -> SqliteStorage:
    """The factory of ``sqlite://PATH``."""
    return SqliteStorage.open(local_path(url))
