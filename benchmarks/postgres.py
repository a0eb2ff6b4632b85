"""``postgres``: what storing every record on a PostgreSQL server costs beside SQLite.

100,000 no-op items on a fresh ``postgresql://`` database on loopback against the
same on a fresh SQLite store: postgres keeps at least half of SQLite's throughput.
The server is a throwaway cluster started here as the tests start theirs
(tests/postgres_server.py), with PostgreSQL's default durability (``fsync`` on); a
machine without the server binaries skips the rows, saying which binary is missing.

``postgres-batch``: why the writer stores a batch with COPY into a staging table and one
upsert: against psycopg's pipelined ``executemany`` of the same upsert.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from benchmarks.measure import ROOT, interleaved, on_backend
from benchmarks.persistence import ITEMS, WARM_UP_ITEMS, WINDOW, rate, sqlite_rate
from benchmarks.registry import Row, Settings, benchmark, ratio_at_least


@functools.cache
def server_module() -> ModuleType:
    """tests/postgres_server.py, which is not in an importable package."""
    path = ROOT / "tests" / "postgres_server.py"
    spec = importlib.util.spec_from_file_location("postgres_server", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def postgres_rate(server: Any, backend: str, items: int) -> float:
    """Items per second into a database of its own, dropped afterwards."""
    database = server.create_database("doteval_bench")
    try:
        return on_backend(backend, rate, items, server.url(database))
    finally:
        server.drop_database(database)


@benchmark("postgres", order=43)
def throughput(settings: Settings) -> Iterator[Row]:
    servers = server_module()
    try:
        cluster = servers.PostgresCluster(durable=True)
    except servers.MissingServer as exc:
        print(f"postgres: skipped: {exc}", file=sys.stderr)
        return
    with cluster:
        for backend in settings.backends:
            postgres_rate(cluster, backend, WARM_UP_ITEMS)
            sqlite_rate(backend, WARM_UP_ITEMS)
            stored, sqlite = interleaved(
                functools.partial(postgres_rate, cluster, backend, ITEMS),
                functools.partial(sqlite_rate, backend, ITEMS),
                settings.repeats,
            )
            yield Row(
                "postgres",
                f"{ITEMS:,} no-op items on postgresql:// (loopback)",
                backend,
                WINDOW,
                "items/s",
                stored,
                sqlite,
                ratio_at_least(0.5),
                baseline="sqlite://",
            )


BATCH = 1000
ROW = (0, -(2**40), True, '[0,{"a":0},[["exact_match",true,null]],null,null,null,1,1.0e-05]')


def _batches() -> Iterator[list[tuple[int, int, bool, str]]]:
    for start in range(0, ITEMS, BATCH):
        yield [(item, ROW[1], ROW[2], ROW[3]) for item in range(start, start + BATCH)]


def _upsert_rate(server: Any, copy: bool) -> float:
    """Records per second written as the backend writes them (COPY into its staging table,
    then one upsert) or with ``executemany`` (which psycopg pipelines), twice over: once
    inserting, once replacing."""
    import psycopg

    from doteval._private.storage.backends import postgres

    database = server.create_database("doteval_bench")
    try:
        with psycopg.connect(server.url(database), autocommit=True) as connection:
            for statement in postgres.MIGRATIONS[0]:
                connection.execute(statement)
            connection.execute(postgres._BATCH_TABLE)
            started = time.perf_counter()
            for _ in range(2):
                for batch in _batches():
                    with connection.transaction(), connection.cursor() as cursor:
                        if copy:
                            with cursor.copy(
                                "COPY doteval_batch (item_id, row_hash, ok, body) FROM STDIN"
                            ) as stream:
                                for row in batch:
                                    stream.write_row(row)
                            cursor.execute(postgres._UPSERT, (1,))
                        else:
                            cursor.executemany(
                                "INSERT INTO doteval_items "
                                "(evaluation_id, item_id, row_hash, ok, body) "
                                "VALUES (1, %s, %s, %s, %s) "
                                "ON CONFLICT (evaluation_id, item_id, epoch) DO UPDATE "
                                "SET row_hash = EXCLUDED.row_hash, ok = EXCLUDED.ok, "
                                "body = EXCLUDED.body",
                                batch,
                            )
            return 2 * ITEMS / (time.perf_counter() - started)
    finally:
        server.drop_database(database)


@benchmark("postgres-batch", order=44)
def batched_writes(settings: Settings) -> Iterator[Row]:
    """Why the writer copies: COPY then one upsert against psycopg's pipelined executemany."""
    servers = server_module()
    try:
        cluster = servers.PostgresCluster(durable=True)
    except servers.MissingServer as exc:
        print(f"postgres-batch: skipped: {exc}", file=sys.stderr)
        return
    with cluster:
        copied, pipelined = interleaved(
            functools.partial(_upsert_rate, cluster, True),
            functools.partial(_upsert_rate, cluster, False),
            settings.repeats,
        )
        yield Row(
            "postgres-batch",
            f"{ITEMS:,} records upserted in batches of {BATCH:,}, twice (insert, replace)",
            "-",
            BATCH,
            "records/s",
            copied,
            pipelined,
            ratio_at_least(1.0),
            baseline="executemany (pipeline)",
        )
