"""The SQLite store's file format: what marks a file as doteval's, its versions, migrations.

``PRAGMA application_id`` marks a doteval store (so another application's database
named by mistake is refused, never modified), and ``PRAGMA user_version`` is the
format version. Version 1 (stores written before either was set) has no epoch in
an item's key; version 2 keys items by ``(evaluation, item, epoch)``; version 3
adds a row per shard of an evaluation run in shards. Opening an older store
migrates it in one transaction; a newer one is refused.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable

from doteval._private.errors import StorageError

APPLICATION_ID = 0x646F7465
"""``"dote"``: set in every doteval SQLite store's header."""

SCHEMA_VERSION = 3

_TABLES = """
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
    estimates TEXT,
    UNIQUE (experiment_id, name)
);
-- One row per item and epoch, clustered by (evaluation, item): a resume walks it in
-- item order.
CREATE TABLE IF NOT EXISTS items (
    evaluation_id INTEGER NOT NULL,
    item_id INTEGER NOT NULL,
    epoch INTEGER NOT NULL DEFAULT 0,
    row_hash INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (evaluation_id, item_id, epoch)
) WITHOUT ROWID;
-- One row per shard that ran (shard_index of shard_count): its lease, status and totals.
CREATE TABLE IF NOT EXISTS shards (
    evaluation_id INTEGER NOT NULL,
    shard_count INTEGER NOT NULL,
    shard_index INTEGER NOT NULL,
    status TEXT NOT NULL,
    started_at REAL,
    ended_at REAL,
    counts TEXT,
    seed TEXT,
    lease TEXT,
    expected INTEGER,
    PRIMARY KEY (evaluation_id, shard_count, shard_index)
) WITHOUT ROWID;
"""

_DOTEVAL_TABLES = frozenset({"experiments", "evaluations", "items"})


def _create_tables(connection: sqlite3.Connection) -> None:
    # One statement at a time: executescript() would commit the caller's transaction.
    for statement in _TABLES.split(";"):
        if statement.strip():
            connection.execute(statement)


def _add_epochs(connection: sqlite3.Connection) -> None:
    """Version 1 to 2: items are keyed by epoch too (every stored one is epoch 0), and an
    evaluation keeps its metrics' estimates."""
    connection.execute("ALTER TABLE evaluations ADD COLUMN estimates TEXT")
    connection.execute("ALTER TABLE items RENAME TO items_v1")
    _create_tables(connection)
    connection.execute(
        "INSERT INTO items (evaluation_id, item_id, epoch, row_hash, ok, body) "
        "SELECT evaluation_id, item_id, 0, row_hash, ok, body FROM items_v1"
    )
    connection.execute("DROP TABLE items_v1")


def _add_shards(connection: sqlite3.Connection) -> None:
    """Version 2 to 3: an evaluation run in shards keeps a row per shard."""
    _create_tables(connection)  # creates what is missing: the shards table


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _add_epochs, 2: _add_shards}
"""From each version, the step to the next one."""


_HEADER = (
    "SELECT (SELECT application_id FROM pragma_application_id), "
    "(SELECT user_version FROM pragma_user_version), "
    "(SELECT group_concat(name, ' ') FROM sqlite_master "
    "WHERE type = 'table' AND name NOT LIKE 'sqlite_%')"
)
"""One statement, so one snapshot: another run may be setting the file up meanwhile."""


def read_format(connection: sqlite3.Connection, path: str) -> int:
    """The store's format version (0: an empty database to set up); refuses a file that
    is not doteval's or is newer than this code."""
    try:
        application, version, names = connection.execute(_HEADER).fetchone()
        tables = set((names or "").split())
    except sqlite3.DatabaseError as exc:
        if is_busy(exc):
            raise  # the caller names who holds the lock
        raise unreadable(path, exc) from None
    if application == APPLICATION_ID or (application == 0 and version == 1):
        if application == 0 and not tables >= _DOTEVAL_TABLES:
            raise _foreign(path, application, tables)
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"{path} was written by a newer doteval (store format {version}; this "
                f"doteval reads up to {SCHEMA_VERSION}): upgrade doteval to use it"
            )
        return int(version)
    if application == 0 and version == 0 and not tables:
        return 0
    raise _foreign(path, application, tables)


def is_busy(error: sqlite3.Error) -> bool:
    """Is this another connection's lock rather than a fault of the file?"""
    return isinstance(error, sqlite3.OperationalError) and (
        "locked" in str(error) or "busy" in str(error)
    )


def unreadable(path: str, error: sqlite3.Error) -> StorageError:
    """A file SQLite cannot read at all: another kind of file, or a damaged store."""
    return StorageError(
        f"{path} is not a doteval store: SQLite cannot read it ({error}). If it was one, "
        f"the file is damaged: run `doteval check --storage sqlite://{path}`, or restore "
        f"it from a backup; otherwise point storage= or DOTEVAL_STORAGE at another file"
    )


def _foreign(path: str, application: int, tables: set[str]) -> StorageError:
    what = f"application_id {application:#x}" if application else "no application_id"
    listed = ", ".join(sorted(tables)) or "none"
    return StorageError(
        f"{path} is a SQLite database of another application ({what}; tables: {listed}), "
        f"not a doteval store, so doteval leaves it untouched; point storage= or "
        f"DOTEVAL_STORAGE at another file (e.g. sqlite://.doteval/doteval.db)"
    )


def upgrade(connection: sqlite3.Connection, path: str) -> None:
    """Set up a new store or migrate an older one, in one transaction (the caller holds it)."""
    version = read_format(connection, path)
    if version == 0:
        _create_tables(connection)
    else:
        while version < SCHEMA_VERSION:
            MIGRATIONS[version](connection)
            version += 1
    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def is_empty_file(path: str) -> bool:
    """A file that does not exist yet, or has no bytes: a store to set up."""
    try:
        return os.path.getsize(path) == 0
    except FileNotFoundError:
        return True
