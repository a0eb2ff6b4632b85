"""``postgresql://USER:PASSWORD@HOST:PORT/DB``: one store that a team and its CI jobs share.

Built on psycopg 3's blocking API: every call comes from a run's store thread (or a
command), never from the event loop. Each call opens its own connection, as the
sqlite backend opens the file; a run's writer keeps one. When the server goes away
mid-run (restarted, or the connection ended by an administrator), reading and
writing reconnect with backoff and do the step again: writes are upserts of whole
records with absolute totals, so a batch whose commit was lost is written again
and stored once. A server away longer than ``RECONNECT_TIMEOUT`` stops the run
with a ``StorageError``; running it again resumes from what was stored.

Credentials stay inside this module: ``url`` is masked, and every message of the
server or of libpq is scrubbed of the password before it becomes a ``StorageError``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import attrs

from doteval._private.errors import ExperimentExistsError, StorageError, UnknownNameError
from doteval._private.results.records import Counts, Record
from doteval._private.storage.backends.shard_rows import SHARD_COLUMNS, shard_info
from doteval._private.storage.estimates_json import (
    Estimates,
    estimates_from_json,
    estimates_to_json,
)
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
from doteval._private.storage.urls import mask_url
from doteval._private.text import install_hint

try:
    import psycopg
    import psycopg.conninfo
    import psycopg.errors
except ImportError as exc:  # the registry loads this module only for a postgresql:// URL
    raise StorageError(
        f'postgresql:// stores need psycopg, which the "postgres" extra installs: '
        f"{install_hint('postgres')}"
    ) from exc
import stamina

T = TypeVar("T")
Connection = psycopg.Connection[Any]

RECONNECT_TIMEOUT = 30.0
"""Seconds a run waits for a server that went away before it stops with a ``StorageError``."""

CONNECT_TIMEOUT = 10
"""Seconds libpq waits for one connection attempt (unless the URL sets ``connect_timeout``)."""

PAGE_SIZE = 2000
"""Records read per query: ``records()`` reads by keyset pages, so a lost connection
resumes after the last record it gave."""

_SCHEMA_LOCK = 0x646F7465_76616C00
"""The advisory lock (``pg_advisory_xact_lock``) under which the schema is created or
migrated, so shards opening an empty database together do not race."""

_SCHEMA_TABLE = (
    "CREATE TABLE IF NOT EXISTS doteval_schema ("
    "one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), version INTEGER NOT NULL)"
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 0 -> 1: the first schema. An item's identity is (item_id, epoch); every record is
    # epoch 0 until repeated sampling stores more than one per item.
    (
        "CREATE TABLE doteval_experiments ("
        "id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
        "created_at DOUBLE PRECISION NOT NULL)",
        "CREATE TABLE doteval_evaluations ("
        "id BIGSERIAL PRIMARY KEY, experiment_id BIGINT NOT NULL, name TEXT NOT NULL, "
        "status TEXT NOT NULL, started_at DOUBLE PRECISION, ended_at DOUBLE PRECISION, "
        "metadata TEXT NOT NULL DEFAULT '{}', counts TEXT, summary TEXT, seed TEXT, "
        "lease TEXT, estimates TEXT, UNIQUE (experiment_id, name))",
        "CREATE TABLE doteval_items ("
        "evaluation_id BIGINT NOT NULL, item_id BIGINT NOT NULL, "
        "epoch INTEGER NOT NULL DEFAULT 0, row_hash BIGINT NOT NULL, ok BOOLEAN NOT NULL, "
        "body TEXT NOT NULL, PRIMARY KEY (evaluation_id, item_id, epoch))",
        # records(errors_only=True) and the viewer's error pages walk only the errors.
        "CREATE INDEX doteval_items_errors ON doteval_items (evaluation_id, item_id) WHERE NOT ok",
    ),
    # 1 -> 2: an evaluation run in shards keeps a row per shard (its lease and totals).
    (
        "CREATE TABLE doteval_shards ("
        "evaluation_id BIGINT NOT NULL, shard_count INTEGER NOT NULL, "
        "shard_index INTEGER NOT NULL, status TEXT NOT NULL, "
        "started_at DOUBLE PRECISION, ended_at DOUBLE PRECISION, counts TEXT, seed TEXT, "
        "lease TEXT, expected BIGINT, PRIMARY KEY (evaluation_id, shard_count, shard_index))",
    ),
)
"""``MIGRATIONS[n]`` takes a schema of version ``n`` to ``n + 1`` (0: an empty database)."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The version this code writes; a newer stored one is refused, an older one migrated."""

_BATCH_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS doteval_batch ("
    "item_id BIGINT, epoch INTEGER, row_hash BIGINT, ok BOOLEAN, body TEXT) "
    "ON COMMIT DELETE ROWS"
)
_COPY = "COPY doteval_batch (item_id, epoch, row_hash, ok, body) FROM STDIN"
_UPSERT = (
    "INSERT INTO doteval_items (evaluation_id, item_id, epoch, row_hash, ok, body) "
    "SELECT %s, item_id, epoch, row_hash, ok, body FROM doteval_batch "
    "ON CONFLICT (evaluation_id, item_id, epoch) DO UPDATE "
    "SET row_hash = EXCLUDED.row_hash, ok = EXCLUDED.ok, body = EXCLUDED.body"
)
_STOP = 2**62

# Without logging configured, a reconnect prints nothing; an application that configures
# logging sees stamina's warning for each retry.
logging.getLogger("stamina").addHandler(logging.NullHandler())


def masked(url: str) -> str:
    """``url`` fit to show: its password masked, also one given as ``?password=``."""
    return re.sub(r"(?i)([?&]password=)[^&]*", r"\1***", mask_url(url))


def _lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the server or the connection went away (or a transaction lost
    a race): the step may succeed when done again on a new connection."""
    return isinstance(exc, psycopg.OperationalError)  # serialisation failures and deadlocks too


def _fetch_all(query: str, arguments: Sequence[Any]) -> Callable[[Connection], list[Any]]:
    return lambda connection: connection.execute(query, arguments).fetchall()


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=repr)


def _counts(text: str | None) -> Counts | None:
    return None if text is None else Counts(**json.loads(text))


def _lease(text: str | None) -> Lease | None:
    return Lease.from_json(json.loads(text)) if text else None


def _row_of(evaluation_id: int, lease: Lease) -> tuple[str, str, tuple[int, ...]]:
    """Where a run's lease and totals live: the evaluation's row, or its shard's (the table,
    the condition that picks the row, and the condition's arguments)."""
    if lease.shard is None:
        return "doteval_evaluations", "id = %s", (evaluation_id,)
    return (
        "doteval_shards",
        "evaluation_id = %s AND shard_count = %s AND shard_index = %s",
        (evaluation_id, lease.shard.count, lease.shard.index),
    )


@attrs.define(eq=False, repr=False)
class _Session:
    """A connection that comes back: a step interrupted by a lost connection is done
    again on a new one, with backoff, for up to ``RECONNECT_TIMEOUT`` seconds.

    Until it first reaches the server, a session fails at once: a wrong URL or
    password, or a server that is not there, should say so now, not in 30 s.
    """

    storage: PostgresStorage
    reached: bool = False
    gave_up: bool = False
    connection: Connection | None = None
    on_connect: Callable[[Connection], None] | None = None

    def _connected(self) -> Connection:
        connection = self.connection
        if connection is None or connection.closed:
            connection = psycopg.connect(self.storage.conninfo, autocommit=True)
            try:
                if self.on_connect is not None:
                    self.on_connect(connection)
            except BaseException:
                connection.close()
                raise
            self.connection = connection
            self.reached = True
        return connection

    def _attempt(self, step: Callable[[Connection], T], transaction: bool) -> T:
        connection = self._connected()
        try:
            if not transaction:
                return step(connection)
            with connection.transaction():
                return step(connection)
        except psycopg.Error as exc:
            if _lost(exc) or connection.broken:
                self.drop()
            raise

    def run(self, step: Callable[[Connection], T], *, transaction: bool = True) -> T:
        """``step(connection)``, in one transaction unless ``transaction=False``."""
        retrying = self.reached and not self.gave_up  # else fail at once (class docstring)
        try:
            if not retrying:
                return self._attempt(step, transaction)
            for attempt in stamina.retry_context(
                on=_lost,
                attempts=None,
                timeout=RECONNECT_TIMEOUT,
                wait_initial=0.05,
                wait_max=2.0,
                wait_jitter=0.2,
            ):
                with attempt:
                    return self._attempt(step, transaction)
        except psycopg.Error as exc:
            if retrying and _lost(exc):
                self.gave_up = True  # later steps (the run's last flush) fail at once
                raise self.storage.away(exc) from None
            raise self.storage.failed(exc) from None
        raise AssertionError("stamina ended its retry loop without an outcome")

    def drop(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            with contextlib.suppress(psycopg.Error):
                connection.close()

    close = drop


@attrs.define(eq=False, repr=False)
class _Stored:
    storage: PostgresStorage
    evaluation_id: int
    previous: str | None
    extent: int
    seed: Mapping[str, Any] | None

    def fetch(self, start: int, stop: int | None, count: int) -> Sequence[StoredItem]:
        # The server answered ``begin``: a fetch rides out a restart like a write.
        session = _Session(self.storage, reached=True)
        try:
            rows: list[StoredItem] = session.run(
                lambda connection: connection.execute(
                    "SELECT item_id, row_hash, ok, epoch FROM doteval_items "
                    "WHERE evaluation_id = %s "
                    "AND item_id >= %s AND item_id < %s ORDER BY item_id, epoch LIMIT %s",
                    (self.evaluation_id, start, _STOP if stop is None else stop, count),
                ).fetchall(),
                transaction=False,
            )
        finally:
            session.close()
        return rows


def _prepare_batches(connection: Connection) -> None:
    """The session's staging table for COPY (created outside any transaction, so that a
    rolled-back write cannot take it away)."""
    connection.execute(_BATCH_TABLE)


@attrs.define(eq=False, repr=False)
class _Writer:
    """A run's writes, on one reconnecting session. A batch goes in by COPY into the
    session's staging table and one upsert, which is faster than psycopg's pipelined
    ``executemany`` (``python -m benchmarks --only postgres-batch``)."""

    session: _Session
    evaluation_id: int
    lease: Lease
    experiment: str
    evaluation: str
    keeps_seed: bool = True
    keeps_estimates: bool = True
    encoder: RecordEncoder = attrs.field(factory=RecordEncoder)

    def write(
        self,
        batch: Sequence[tuple[Record, int]],
        counts: Counts,
        seed: Mapping[str, Any] | None,
    ) -> str | None:
        encode = self.encoder.compact
        # A later record of an item replaces the earlier one, also within one batch (one
        # upsert statement may not touch a row twice).
        rows = {
            (record.item_id, record.epoch): (
                record.item_id,
                record.epoch,
                hashed,
                record.error is None,
                encode(record),
            )
            for record, hashed in batch
        }
        self.lease = self.lease.beat()
        totals = (_json(attrs.asdict(counts)), _json(seed), _json(self.lease.to_json()))

        def step(connection: Connection) -> None:
            self._check_lease(connection)
            with connection.cursor() as cursor:
                with cursor.copy(_COPY) as copy:
                    for row in rows.values():
                        copy.write_row(row)
                cursor.execute(_UPSERT, (self.evaluation_id,))
                table, where, key = _row_of(self.evaluation_id, self.lease)
                cursor.execute(
                    f"UPDATE {table} SET counts = %s, seed = %s, lease = %s WHERE {where}",
                    (*totals, *key),
                )

        self.session.run(step)
        return self.encoder.replaced

    def _check_lease(self, connection: Connection) -> None:
        table, where, key = _row_of(self.evaluation_id, self.lease)
        row = connection.execute(
            f"SELECT lease FROM {table} WHERE {where} FOR UPDATE", key
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
        lease = _json(self.lease.to_json())

        table, where, key = _row_of(self.evaluation_id, self.lease)

        def step(connection: Connection) -> None:
            self._check_lease(connection)
            connection.execute(f"UPDATE {table} SET lease = %s WHERE {where}", (lease, *key))

        self.session.run(step)

    def finish(
        self,
        status: str,
        counts: Counts,
        summary: Mapping[str, Mapping[str, Any]] | None,
        estimates: Estimates | None = None,
        expected: int | None = None,
    ) -> None:
        """Store how the run ended. After the server stayed away past the timeout, the run
        has already failed saying so; if the server is still away, the status stays
        unstored (readers see the evaluation interrupted once its lease goes stale)."""
        ended_at, totals = time.time(), _json(attrs.asdict(counts))
        table, where, key = _row_of(self.evaluation_id, self.lease)
        if self.lease.shard is None:
            changes = "summary = %s, estimates = %s"
            values: tuple[Any, ...] = (_json(summary), _json(estimates_to_json(estimates)))
        else:
            changes, values = "expected = %s", (expected,)

        def step(connection: Connection) -> None:
            self._check_lease(connection)
            connection.execute(
                f"UPDATE {table} SET status = %s, ended_at = %s, counts = %s, {changes}, "
                f"lease = NULL WHERE {where}",
                (status, ended_at, totals, *values, *key),
            )

        try:
            self.session.run(step)
        except StorageError as exc:
            gone = isinstance(exc.__context__, psycopg.OperationalError)
            if not (self.session.gave_up and gone):
                raise

    def close(self) -> None:
        self.session.close()


_EVALUATION_COLUMNS = (
    "e.experiment_id, e.name, e.status, e.started_at, e.ended_at, e.metadata, e.counts, "
    "e.summary, e.lease, e.id, e.estimates"
)


@attrs.define(eq=False, repr=False)
class PostgresStorage:
    """``postgresql://`` (or ``postgres://``): experiments, evaluations and items in three
    tables of one database, beside a one-row table holding the schema's version."""

    stores_epochs: ClassVar[bool] = True
    url: str
    """The URL with its password masked: what every message shows."""
    conninfo: str = attrs.field(repr=False)
    """What libpq connects with, password included; it never leaves this object."""

    @classmethod
    def open(cls, url: str) -> PostgresStorage:
        shown = masked(url)
        try:
            params = psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.Error:
            raise StorageError(
                f"{shown} is not a PostgreSQL URL libpq can read; write it as "
                f"postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
            ) from None
        defaults: dict[str, str | int] = {
            "connect_timeout": CONNECT_TIMEOUT,
            "application_name": "doteval",
            # A server that vanished without closing the connection is noticed in about
            # 30 s instead of the system's default of hours.
            "keepalives_idle": 15,
            "keepalives_interval": 5,
            "keepalives_count": 3,
        }
        missing = {key: value for key, value in defaults.items() if key not in params}
        storage = cls(shown, psycopg.conninfo.make_conninfo(url, **missing))
        storage._once(storage._prepare, transaction=False)
        return storage

    # Messages -----------------------------------------------------------------

    def scrub(self, text: str) -> str:
        """``text`` without the password (libpq and the server may quote the URL)."""
        password = psycopg.conninfo.conninfo_to_dict(self.conninfo).get("password")
        if password:
            for form in {str(password), urllib.parse.quote(str(password), safe="")}:
                text = text.replace(form, "***")
        return " ".join(text.split())  # libpq's messages run over several lines

    def failed(self, exc: psycopg.Error) -> StorageError:
        """The server's or libpq's error as a ``StorageError`` naming the store."""
        text = self.scrub(str(exc))
        if isinstance(exc, psycopg.OperationalError):
            return StorageError(
                f"cannot use the PostgreSQL server of {self.url}: {text} (check that the "
                f"server runs and accepts connections, and the URL's host, port, user, "
                f"password and database)"
            )
        return StorageError(f"the PostgreSQL server of {self.url} refused a request: {text}")

    def away(self, exc: psycopg.Error) -> StorageError:
        return StorageError(
            f"lost the PostgreSQL server of {self.url} for more than {RECONNECT_TIMEOUT:g} s "
            f"({self.scrub(str(exc))}); the run stops here, and running it again once the "
            f"server is back resumes from what was stored"
        )

    # Connections and schema ---------------------------------------------------

    def _once(self, step: Callable[[Connection], T], *, transaction: bool = True) -> T:
        """``step`` on a connection of its own, which fails at once if the server is away."""
        session = _Session(self)
        try:
            return session.run(step, transaction=transaction)
        finally:
            session.close()

    def _prepare(self, connection: Connection) -> None:
        """Create or migrate the schema, under the advisory lock, unless it is current."""
        if self._version(connection) == len(MIGRATIONS):
            return
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            version = self._version(connection)
            if version > len(MIGRATIONS):
                raise StorageError(
                    f"{self.url} was written by a newer doteval (schema version {version}; "
                    f"this one knows up to {len(MIGRATIONS)}): upgrade doteval to use it"
                )
            if version == len(MIGRATIONS):
                return  # another process created it while this one waited for the lock
            connection.execute(_SCHEMA_TABLE)
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    connection.execute(statement)
            connection.execute(
                "INSERT INTO doteval_schema (version) VALUES (%s) "
                "ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version",
                (len(MIGRATIONS),),
            )

    @staticmethod
    def _version(connection: Connection) -> int:
        # pg_class is read as a table, with this statement's snapshot: to_regclass() would
        # ask the catalog cache, which taking an advisory lock does not refresh, and miss
        # the schema that the lock's previous holder just committed.
        (exists,) = connection.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'doteval_schema' AND n.nspname = current_schema())"
        ).fetchone() or (False,)
        if not exists:
            return 0
        row = connection.execute("SELECT version FROM doteval_schema").fetchone()
        return 0 if row is None else int(row[0])

    # Reading ------------------------------------------------------------------

    @staticmethod
    def _shards(
        connection: Connection, evaluation_id: int | None = None
    ) -> dict[int, tuple[ShardInfo, ...]]:
        """The shards of one evaluation, or of all, by evaluation id."""
        query = f"SELECT {SHARD_COLUMNS} FROM doteval_shards"
        arguments: tuple[int, ...] = ()
        if evaluation_id is not None:
            query, arguments = query + " WHERE evaluation_id = %s", (evaluation_id,)
        rows = connection.execute(
            query + " ORDER BY evaluation_id, shard_count, shard_index", arguments
        ).fetchall()
        found: dict[int, list[ShardInfo]] = {}
        for row in rows:
            found.setdefault(int(row[0]), []).append(shard_info(row))
        return {key: tuple(infos) for key, infos in found.items()}

    def _info(
        self,
        connection: Connection,
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

    @staticmethod
    def _count(connection: Connection, evaluation_id: int) -> Counts:
        row = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE NOT ok) FROM doteval_items "
            "WHERE evaluation_id = %s",
            (evaluation_id,),
        ).fetchone()
        assert row is not None
        return Counts(int(row[0]), int(row[1]), 0, 0)

    def experiments(self) -> list[ExperimentInfo]:
        def step(connection: Connection) -> list[ExperimentInfo]:
            # One snapshot for both queries: no evaluation of an experiment not yet listed.
            connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            experiments = connection.execute(
                "SELECT id, name, created_at FROM doteval_experiments "
                'ORDER BY created_at DESC, name COLLATE "C"'
            ).fetchall()
            names = {row[0]: row[1] for row in experiments}
            shards = self._shards(connection)
            by_experiment: dict[int, list[EvaluationInfo]] = {}
            for row in connection.execute(
                f"SELECT {_EVALUATION_COLUMNS} FROM doteval_evaluations e "
                'ORDER BY e.name COLLATE "C"'
            ).fetchall():
                info = self._info(
                    connection, names.get(row[0], "?"), row, shards.get(int(row[9]), ())
                )
                by_experiment.setdefault(row[0], []).append(info)
            return [
                ExperimentInfo(name, created_at, tuple(by_experiment.get(key, ())))
                for key, name, created_at in experiments
            ]

        return self._once(step)

    def evaluation(self, experiment: str, name: str) -> EvaluationInfo | None:
        def step(connection: Connection) -> EvaluationInfo | None:
            row = connection.execute(
                f"SELECT {_EVALUATION_COLUMNS} FROM doteval_evaluations e "
                "JOIN doteval_experiments x ON x.id = e.experiment_id "
                "WHERE x.name = %s AND e.name = %s",
                (experiment, name),
            ).fetchone()
            if row is None:
                return None
            shards = self._shards(connection, int(row[9])).get(int(row[9]), ())
            return self._info(connection, experiment, row, shards)

        return self._once(step)

    def _evaluation_id(self, connection: Connection, experiment: str, name: str) -> int:
        row = connection.execute(
            "SELECT e.id FROM doteval_evaluations e "
            "JOIN doteval_experiments x ON x.id = e.experiment_id "
            "WHERE x.name = %s AND e.name = %s",
            (experiment, name),
        ).fetchone()
        if row is None:
            raise UnknownNameError(f"{name} of experiment {experiment!r} is not in {self.url}")
        return int(row[0])

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
        condition = ""
        if errors_only or successes_only:
            condition = " AND NOT ok" if errors_only else " AND ok"
        query = (
            "SELECT item_id, body FROM doteval_items WHERE evaluation_id = %s "
            f"AND item_id >= %s AND item_id < %s{condition} ORDER BY item_id, epoch LIMIT %s"
        )
        end = _STOP if stop is None else stop
        session = _Session(self)
        try:
            evaluation_id = session.run(
                lambda connection: self._evaluation_id(connection, experiment, evaluation),
                transaction=False,
            )
            while True:  # keyset pages: after a lost connection, the next page follows on
                page = session.run(
                    _fetch_all(query, (evaluation_id, start, end, PAGE_SIZE)),
                    transaction=False,
                )
                for _, body in page:
                    yield decode_record(body)
                if len(page) < PAGE_SIZE:
                    return
                start = page[-1][0] + 1
        finally:
            session.close()

    def page(
        self,
        experiment: str,
        evaluation: str,
        *,
        after: int | None,
        limit: int,
        errors_only: bool = False,
    ) -> list[Record]:
        """Up to ``limit`` records above ``after``: one query on the primary key (or, for
        errors, on the partial index of errors)."""
        condition = " AND NOT ok" if errors_only else ""

        def step(connection: Connection) -> list[Record]:
            evaluation_id = self._evaluation_id(connection, experiment, evaluation)
            rows = connection.execute(
                "SELECT body FROM doteval_items WHERE evaluation_id = %s AND item_id > %s"
                f"{condition} ORDER BY item_id, epoch LIMIT %s",
                (evaluation_id, -1 if after is None else after, limit),
            ).fetchall()
            return [decode_record(body) for (body,) in rows]

        return self._once(step, transaction=False)

    def count(self, experiment: str, evaluation: str) -> int:
        """How many records the evaluation holds: one count on the primary key."""

        def step(connection: Connection) -> int:
            evaluation_id = self._evaluation_id(connection, experiment, evaluation)
            row = connection.execute(
                "SELECT count(*) FROM doteval_items WHERE evaluation_id = %s", (evaluation_id,)
            ).fetchone()
            return int(row[0]) if row else 0

        return self._once(step, transaction=False)

    # Running ------------------------------------------------------------------

    def begin(
        self,
        experiment: str,
        evaluation: str,
        lease: Lease,
        metadata: Mapping[str, Any],
        admit: Admit,
    ) -> _Stored:
        def step(connection: Connection) -> _Stored:
            # The upsert locks the experiment's row: the runs and deletes of one experiment
            # take turns here, so two runs cannot both create the same evaluation.
            found = connection.execute(
                "INSERT INTO doteval_experiments (name, created_at) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
                (experiment, time.time()),
            ).fetchone()
            assert found is not None
            experiment_id = found[0]
            row = connection.execute(
                "SELECT id, lease, seed, status FROM doteval_evaluations "
                "WHERE experiment_id = %s AND name = %s FOR UPDATE",
                (experiment_id, evaluation),
            ).fetchone()
            if row is None:
                admit(evaluation, None)
                created = connection.execute(
                    "INSERT INTO doteval_evaluations (experiment_id, name, status, started_at, "
                    "metadata, lease) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                    (experiment_id, evaluation, RUNNING, time.time(), _json(metadata), held_by),
                ).fetchone()
                assert created is not None
                evaluation_id, previous, extent, seed_text = int(created[0]), None, 0, None
            else:
                evaluation_id, held, seed_text, previous = row
                admit(evaluation, _lease(held))
                # The evaluation's row is locked: its shards' rows change only under it.
                shards = connection.execute(
                    "SELECT shard_count, shard_index, lease, status, seed FROM doteval_shards "
                    "WHERE evaluation_id = %s",
                    (evaluation_id,),
                ).fetchall()
                for *_, shard_lease, _, _ in shards:
                    admit(evaluation, _lease(shard_lease))
                last = connection.execute(
                    "SELECT max(item_id) FROM doteval_items WHERE evaluation_id = %s",
                    (evaluation_id,),
                ).fetchone()
                extent = 0 if last is None or last[0] is None else int(last[0]) + 1
                if shard is None:  # the whole evaluation is one run again
                    connection.execute(
                        "DELETE FROM doteval_shards WHERE evaluation_id = %s", (evaluation_id,)
                    )
                    connection.execute(
                        "UPDATE doteval_evaluations SET status = %s, metadata = %s, lease = %s, "
                        "ended_at = NULL WHERE id = %s",
                        (RUNNING, _json(metadata), held_by, evaluation_id),
                    )
                else:
                    mine = [r for r in shards if (r[0], r[1]) == (shard.count, shard.index)]
                    previous, seed_text = (mine[0][3], mine[0][4]) if mine else (None, None)
                    # The totals of the whole are no longer those of what is stored, nor are
                    # the seeds of shards of another count (they may overlap this one).
                    connection.execute(
                        "UPDATE doteval_evaluations SET status = %s, metadata = %s, "
                        "ended_at = NULL, counts = NULL, summary = NULL, estimates = NULL, "
                        "seed = NULL WHERE id = %s",
                        (RUNNING, _json(metadata), evaluation_id),
                    )
                    connection.execute(
                        "UPDATE doteval_shards SET seed = NULL WHERE evaluation_id = %s "
                        "AND shard_count <> %s",
                        (evaluation_id, shard.count),
                    )
            if shard is not None:
                connection.execute(
                    "INSERT INTO doteval_shards (evaluation_id, shard_count, shard_index, "
                    "status, started_at, lease) VALUES (%s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (evaluation_id, shard_count, shard_index) DO UPDATE SET "
                    "status = EXCLUDED.status, started_at = EXCLUDED.started_at, "
                    "ended_at = NULL, lease = EXCLUDED.lease",
                    (
                        evaluation_id,
                        shard.count,
                        shard.index,
                        RUNNING,
                        time.time(),
                        _json(lease.to_json()),
                    ),
                )
            seed = json.loads(seed_text) if seed_text else None
            return _Stored(self, int(evaluation_id), previous, extent, seed)

        shard = lease.shard
        held_by = None if shard is not None else _json(lease.to_json())
        return self._once(step)

    def writer(self, experiment: str, evaluation: str, lease: Lease) -> _Writer:
        session = _Session(self, on_connect=_prepare_batches)
        try:
            evaluation_id = session.run(
                lambda connection: self._evaluation_id(connection, experiment, evaluation),
                transaction=False,
            )
        except BaseException:
            session.close()
            raise
        return _Writer(session, evaluation_id, lease, experiment, evaluation)

    def release(self, experiment: str, evaluation: str, lease: Lease, status: str) -> None:
        def step(connection: Connection) -> None:
            evaluation_id = self._evaluation_id(connection, experiment, evaluation)
            table, where, key = _row_of(evaluation_id, lease)
            row = connection.execute(
                f"SELECT lease FROM {table} WHERE {where} FOR UPDATE", key
            ).fetchone()
            held = _lease(row[0]) if row else None
            if held is not None and held.token == lease.token:
                connection.execute(
                    f"UPDATE {table} SET status = %s, lease = NULL WHERE {where}", (status, *key)
                )

        self._once(step)

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
        values = (
            status,
            time.time(),
            _json(attrs.asdict(counts)),
            _json(summary),
            _json(estimates_to_json(estimates)),
        )

        def step(connection: Connection) -> bool:
            evaluation_id = self._evaluation_id(connection, experiment, evaluation)
            self._admit_where(connection, "e.id = %s", evaluation_id, admit)
            stored = self._count(connection, evaluation_id)
            if (stored.total, stored.errors) != (counts.total, counts.errors):
                return False
            connection.execute(
                "UPDATE doteval_evaluations SET status = %s, ended_at = %s, counts = %s, "
                "summary = %s, estimates = %s, seed = NULL WHERE id = %s",
                (*values, evaluation_id),
            )
            return True

        return self._once(step)

    # Managing -----------------------------------------------------------------

    def rename(self, old: str, new: str, admit: Admit) -> None:
        def step(connection: Connection) -> None:
            self._admit_all(connection, self._experiment_id(connection, old), admit)
            if connection.execute(
                "SELECT 1 FROM doteval_experiments WHERE name = %s", (new,)
            ).fetchone():
                raise ExperimentExistsError(new)
            try:
                connection.execute(
                    "UPDATE doteval_experiments SET name = %s WHERE name = %s", (new, old)
                )
            except psycopg.errors.UniqueViolation:  # created meanwhile by another process
                raise ExperimentExistsError(new) from None

        self._once(step)

    def delete(self, experiment: str, admit: Admit) -> None:
        def step(connection: Connection) -> None:
            experiment_id = self._experiment_id(connection, experiment)
            evaluations = self._admit_all(connection, experiment_id, admit)
            connection.execute(
                "DELETE FROM doteval_items WHERE evaluation_id = ANY(%s)", (evaluations,)
            )
            connection.execute(
                "DELETE FROM doteval_shards WHERE evaluation_id = ANY(%s)", (evaluations,)
            )
            connection.execute(
                "DELETE FROM doteval_evaluations WHERE experiment_id = %s", (experiment_id,)
            )
            connection.execute("DELETE FROM doteval_experiments WHERE id = %s", (experiment_id,))

        self._once(step)

    @classmethod
    def _admit_all(cls, connection: Connection, experiment_id: int, admit: Admit) -> list[int]:
        """``admit`` the holders of each evaluation of the experiment (their rows locked
        until the transaction ends); their ids."""
        return cls._admit_where(connection, "e.experiment_id = %s", experiment_id, admit)

    @staticmethod
    def _admit_where(connection: Connection, where: str, key: int, admit: Admit) -> list[int]:
        """``admit`` the holder of each evaluation ``where`` chooses (its row locked until
        the transaction ends), and of each of its shards; their ids."""
        rows = connection.execute(
            f"SELECT e.id, e.name, e.lease FROM doteval_evaluations e WHERE {where} FOR UPDATE",
            (key,),
        ).fetchall()
        for _, name, held in rows:
            admit(name, _lease(held))
        for name, held in connection.execute(
            "SELECT e.name, s.lease FROM doteval_shards s JOIN doteval_evaluations e "
            f"ON e.id = s.evaluation_id WHERE {where}",
            (key,),
        ).fetchall():
            admit(name, _lease(held))
        return [int(evaluation_id) for evaluation_id, _, _ in rows]

    def _experiment_id(self, connection: Connection, name: str) -> int:
        """The experiment's id, its row locked until the transaction ends."""
        row = connection.execute(
            "SELECT id FROM doteval_experiments WHERE name = %s FOR UPDATE", (name,)
        ).fetchone()
        if row is None:
            raise UnknownNameError(f"no experiment {name!r} in {self.url}")
        return int(row[0])


def open_backend(url: str) -> PostgresStorage:
    """The factory of ``postgresql://`` and ``postgres://``."""
    return PostgresStorage.open(url)
