"""The default store: one SQLite file in WAL mode, safe with several processes writing."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from doteval._private.errors import (
    EvaluationBusyError,
    ExperimentExistsError,
    StorageError,
    UnknownNameError,
)
from doteval._private.results.records import Counts, Record
from doteval._private.storage.holders import describe_process, how_to_free, may_be_running
from doteval._private.storage.lease import Lease
from doteval._private.storage.policy import verify_holder
from doteval._private.storage.protocol import Admit, EvaluationInfo, ExperimentInfo, StoredItem
from doteval._private.storage.serialize import RecordEncoder, decode_record
from doteval._private.storage.status import RUNNING
from doteval._private.storage.urls import local_path

SCHEMA_VERSION = 1
BUSY_TIMEOUT = 5.0
"""Seconds a writer waits for another connection's write transaction before raising
``EvaluationBusyError``; a healthy transaction (one batch, one heartbeat) takes milliseconds."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS evaluations (
    id INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at REAL,
    ended_at REAL,
    metadata TEXT NOT NULL DEFAULT '{}',
    counts TEXT,
    summary TEXT,
    seed TEXT,
    lease TEXT,
    UNIQUE (experiment_id, name)
);
-- One row per item, clustered by (evaluation, item): a resume walks it in item order.
CREATE TABLE IF NOT EXISTS items (
    evaluation_id INTEGER NOT NULL,
    item_id INTEGER NOT NULL,
    row_hash INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (evaluation_id, item_id)
) WITHOUT ROWID;
"""


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
            if not _is_busy(exc):
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


@attrs.define(eq=False)
class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``: writers queue on the file lock, never deadlock.

    The write lock is held for this block only: callers encode, read and wait outside
    it, and a failed ``COMMIT`` rolls back rather than leave the lock taken.
    """

    connection: sqlite3.Connection

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
            raise _busy(self.connection) from None
        return self.connection

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is None:
            try:
                self.connection.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        else:
            self._rollback()

    def _rollback(self) -> None:
        if self.connection.in_transaction:  # sqlite may have rolled back already
            self.connection.execute("ROLLBACK")


def _is_busy(error: sqlite3.OperationalError) -> bool:
    return "locked" in str(error) or "busy" in str(error)


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


@attrs.define(eq=False)
class _Stored:
    path: str
    evaluation_id: int
    previous: str | None
    extent: int
    seed: Mapping[str, Any] | None

    def fetch(self, start: int, stop: int | None, count: int) -> Sequence[StoredItem]:
        connection = _connect(self.path)
        try:
            rows = connection.execute(
                "SELECT item_id, row_hash, ok FROM items WHERE evaluation_id = ? "
                "AND item_id >= ? AND item_id < ? ORDER BY item_id LIMIT ?",
                (self.evaluation_id, start, 2**62 if stop is None else stop, count),
            ).fetchall()
        finally:
            connection.close()
        return rows  # ``ok`` stays 0 or 1: only its truth is used


def _lease(text: str | None) -> Lease | None:
    return Lease.from_json(json.loads(text)) if text else None


@attrs.define(eq=False)
class _Writer:
    connection: sqlite3.Connection
    evaluation_id: int
    lease: Lease
    experiment: str
    evaluation: str
    keeps_seed: bool = True
    encoder: RecordEncoder = attrs.field(factory=RecordEncoder)

    def write(
        self,
        batch: Sequence[tuple[Record, int]],
        counts: Counts,
        seed: Mapping[str, Any] | None,
    ) -> str | None:
        encode = self.encoder.compact
        evaluation_id = self.evaluation_id
        items = [
            (evaluation_id, record.item_id, hashed, record.error is None, encode(record))
            for record, hashed in batch
        ]
        self.lease = self.lease.beat()
        with _Transaction(self.connection) as connection:
            self._check_lease(connection)
            connection.executemany("INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?)", items)
            connection.execute(
                "UPDATE evaluations SET counts = ?, seed = ?, lease = ? WHERE id = ?",
                (
                    _json(attrs.asdict(counts)),
                    _json(seed),
                    _json(self.lease.to_json()),
                    self.evaluation_id,
                ),
            )
        return self.encoder.replaced

    def _check_lease(self, connection: sqlite3.Connection) -> None:
        row = connection.execute(
            "SELECT lease FROM evaluations WHERE id = ?", (self.evaluation_id,)
        ).fetchone()
        verify_holder(
            _lease(row[0]) if row else None,
            self.lease,
            self.experiment,
            self.evaluation,
            exists=row is not None,
        )

    def heartbeat(self) -> None:
        self.lease = self.lease.beat()
        with _Transaction(self.connection) as connection:
            self._check_lease(connection)
            connection.execute(
                "UPDATE evaluations SET lease = ? WHERE id = ?",
                (_json(self.lease.to_json()), self.evaluation_id),
            )

    def finish(
        self,
        status: str,
        counts: Counts,
        summary: Mapping[str, Mapping[str, Any]] | None,
    ) -> None:
        with _Transaction(self.connection) as connection:
            self._check_lease(connection)
            connection.execute(
                "UPDATE evaluations SET status = ?, ended_at = ?, counts = ?, summary = ?, "
                "lease = NULL WHERE id = ?",
                (
                    status,
                    time.time(),
                    _json(attrs.asdict(counts)),
                    _json(summary),
                    self.evaluation_id,
                ),
            )

    def close(self) -> None:
        self.connection.close()


@attrs.define(eq=False)
class SqliteStorage:
    """``sqlite://PATH``: experiments, evaluations and items in one database file."""

    path: str
    url: str

    @classmethod
    def open(cls, path: str) -> SqliteStorage:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        connection = _connect(path)
        try:
            if connection.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                _use_wal(connection)
                connection.executescript(
                    f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                )
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise StorageError(f"{path} is not a doteval SQLite store: {exc}") from exc
            raise _busy(connection) from None
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{path} is not a doteval SQLite store: {exc}") from exc
        finally:
            connection.close()
        return cls(path, f"sqlite://{path}")

    def _connect(self) -> sqlite3.Connection:
        return _connect(self.path)

    def experiments(self) -> list[ExperimentInfo]:
        connection = self._connect()
        try:
            experiments = connection.execute(
                "SELECT id, name, created_at FROM experiments ORDER BY created_at DESC, name"
            ).fetchall()
            evaluations = connection.execute(
                "SELECT experiment_id, name, status, started_at, ended_at, metadata, counts, "
                "summary, lease, id FROM evaluations ORDER BY name"
            ).fetchall()
            by_experiment: dict[int, list[EvaluationInfo]] = {}
            names = {row[0]: row[1] for row in experiments}
            for row in evaluations:
                counts = _counts(row[6])
                if counts is None:  # killed before its first flush wrote them
                    counts = self._count(connection, row[9])
                holder = _lease(row[8])
                by_experiment.setdefault(row[0], []).append(
                    EvaluationInfo(
                        experiment=names.get(row[0], "?"),
                        name=row[1],
                        status=row[2],
                        started_at=row[3],
                        ended_at=row[4],
                        metadata=json.loads(row[5]),
                        counts=counts,
                        summary=json.loads(row[7]) if row[7] else None,
                        holder=holder,
                    )
                )
        finally:
            connection.close()
        return [
            ExperimentInfo(name, created_at, tuple(by_experiment.get(key, ())))
            for key, name, created_at in experiments
        ]

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
        connection = self._connect()
        try:
            with _Transaction(connection):
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
                        (
                            experiment_id,
                            evaluation,
                            RUNNING,
                            time.time(),
                            _json(metadata),
                            _json(lease.to_json()),
                        ),
                    ).lastrowid
                    seed, previous, extent = None, None, 0
                else:
                    evaluation_id, held, seed_text, status = row
                    admit(evaluation, _lease(held))
                    previous = status
                    (last,) = connection.execute(
                        "SELECT max(item_id) FROM items WHERE evaluation_id = ?", (evaluation_id,)
                    ).fetchone()
                    extent = 0 if last is None else last + 1
                    connection.execute(
                        "UPDATE evaluations SET status = ?, metadata = ?, lease = ?, "
                        "ended_at = NULL WHERE id = ?",
                        (RUNNING, _json(metadata), _json(lease.to_json()), evaluation_id),
                    )
                    seed = json.loads(seed_text) if seed_text else None
        finally:
            connection.close()
        assert evaluation_id is not None
        return _Stored(self.path, evaluation_id, previous, extent, seed)

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
        connection = self._connect()
        try:
            evaluation_id = self._evaluation_id(connection, experiment, evaluation)
        except BaseException:
            connection.close()
            raise
        return _Writer(connection, evaluation_id, lease, experiment, evaluation)

    def release(self, experiment: str, evaluation: str, lease: Lease, status: str) -> None:
        connection = self._connect()
        try:
            with _Transaction(connection):
                connection.execute(
                    "UPDATE evaluations SET status = ?, lease = NULL WHERE id = ? "
                    "AND json_extract(lease, '$.token') = ?",
                    (status, self._evaluation_id(connection, experiment, evaluation), lease.token),
                )
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
            evaluation_id = self._evaluation_id(connection, experiment, evaluation)
            condition = ""
            if errors_only or successes_only:
                condition = f" AND ok = {0 if errors_only else 1}"
            cursor = connection.execute(
                "SELECT body FROM items WHERE evaluation_id = ?1 AND item_id >= ?2 "
                f"AND item_id < ?3{condition} ORDER BY item_id",
                (evaluation_id, start, 2**62 if stop is None else stop),
            )
            for (body,) in cursor:
                yield decode_record(body)
        finally:
            connection.close()

    def rename(self, old: str, new: str, admit: Admit) -> None:
        connection = self._connect()
        try:
            with _Transaction(connection):
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
        connection = self._connect()
        try:
            with _Transaction(connection):
                experiment_id = self._experiment_id(connection, experiment)
                for evaluation_id in self._admit_all(connection, experiment_id, admit):
                    connection.execute(
                        "DELETE FROM items WHERE evaluation_id = ?", (evaluation_id,)
                    )
                connection.execute(
                    "DELETE FROM evaluations WHERE experiment_id = ?", (experiment_id,)
                )
                connection.execute("DELETE FROM experiments WHERE id = ?", (experiment_id,))
        finally:
            connection.close()

    @staticmethod
    def _admit_all(connection: sqlite3.Connection, experiment_id: int, admit: Admit) -> list[int]:
        """``admit`` the holder of each evaluation of the experiment; their ids."""
        rows = connection.execute(
            "SELECT id, name, lease FROM evaluations WHERE experiment_id = ?", (experiment_id,)
        ).fetchall()
        for _, name, held in rows:
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
