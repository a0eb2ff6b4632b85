"""``postgres``: what storing every record on a PostgreSQL server costs beside SQLite.

100,000 no-op items on a fresh ``postgresql://`` database on loopback against the
same on a fresh SQLite store: postgres keeps at least half of SQLite's throughput.
The server is a throwaway cluster started here as the tests start theirs
(tests/postgres_server.py), with PostgreSQL's default durability (``fsync`` on); a
machine without the server binaries skips the rows, saying which binary is missing.

``postgres-batch``: why the writer stores a batch with COPY into a staging table and one
upsert: against psycopg's pipelined ``executemany`` of the same upsert.

``postgres-shards``: 100,000 items that each sleep 20 ms, at window 50, as 4 shards in 4
processes at once into one experiment, against one process running them all; both wall
times count the interpreters' start, from the first spawn to the last exit (a second or
so: fewer items would measure mostly that). The shards finish in at most 0.4 of the time
(0.25 is perfect). Beside them, the same 4 processes storing nothing (``memory://``):
postgres adds at most a quarter to their time, so the store is not what they wait for
(on a busy machine the first ratio shows the cores, the second the store). A shard is
``python -m benchmarks.postgres URL BACKEND ITEMS I/N`` (``whole``: every item).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import anyio

import doteval
from benchmarks.measure import (
    ROOT,
    check,
    in_subprocess,
    interleaved,
    interleaved_sides,
    on_backend,
)
from benchmarks.persistence import ITEMS, WARM_UP_ITEMS, WINDOW, rate, sqlite_rate
from benchmarks.registry import Row, Settings, benchmark, ratio_at_least, ratio_at_most
from doteval.evaluators import exact_match


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
ROW = (-(2**40), True, '[0,{"a":0},[["exact_match",true,null]],null,null,null,1,1.0e-05]')
"""Every record's row hash, ok and body (a no-op item's, as the writer stores it)."""


def _batches() -> Iterator[list[tuple[int, int, int, bool, str]]]:
    """Rows as the writer copies them: item id, epoch, row hash, ok, body."""
    for start in range(0, ITEMS, BATCH):
        yield [(item, 0, *ROW) for item in range(start, min(ITEMS, start + BATCH))]


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
                            with cursor.copy(postgres._COPY) as stream:
                                for row in batch:
                                    stream.write_row(row)
                            cursor.execute(postgres._UPSERT, (1,))
                        else:
                            cursor.executemany(
                                "INSERT INTO doteval_items "
                                "(evaluation_id, item_id, epoch, row_hash, ok, body) "
                                "VALUES (1, %s, %s, %s, %s, %s) "
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


SHARDS = 4
SHARD_WINDOW = 50
SLEEP = 0.02


async def sleepy(a: int) -> doteval.Score:
    await anyio.sleep(SLEEP)
    return exact_match(a, a)


def run_shard(url: str, backend: str, items: int, shard: str) -> int:
    """One process's part (``whole``: every item); how many items it ran."""
    evaluation = doteval.foreach("a", range(items))(sleepy)
    result = doteval.run(
        evaluation,
        backend,
        experiment="shards",
        storage=url,
        shard=None if shard == "whole" else shard,
        max_concurrency=SHARD_WINDOW,
        progress=False,
    )
    return result.counts.total


def processes_seconds(url: str, backend: str, items: int, shards: int) -> float:
    """Wall time of ``shards`` processes (1: one running the whole) storing into ``url``."""
    parts = ["whole"] if shards == 1 else [f"{index}/{shards}" for index in range(shards)]
    started = time.perf_counter()
    with ThreadPoolExecutor(len(parts)) as pool:
        ran = list(
            pool.map(
                lambda part: in_subprocess(__name__, url, backend, str(items), part)["ran"],
                parts,
            )
        )
    elapsed = time.perf_counter() - started
    check(sum(ran) == items, f"the processes ran {ran} of {items} items")
    return elapsed


def postgres_seconds(server: Any, backend: str, items: int, shards: int) -> float:
    """:func:`processes_seconds` into a fresh database, which then holds every item once."""
    database = server.create_database("doteval_bench")
    try:
        url = server.url(database)
        elapsed = processes_seconds(url, backend, items, shards)
        merged = doteval.load("shards", storage=url)
        check(merged.counts.total == items, f"stored {merged.counts}")
        return elapsed
    finally:
        server.drop_database(database)


@benchmark("postgres-shards", order=45)
def shards(settings: Settings) -> Iterator[Row]:
    """4 shard processes against 1 process, on sleeping items; and against 4 shard processes
    that store nothing (``memory://``, each its own), which shows what the store costs
    them apart from what the machine's cores do."""
    servers = server_module()
    try:
        cluster = servers.PostgresCluster(durable=True)
    except servers.MissingServer as exc:
        print(f"postgres-shards: skipped: {exc}", file=sys.stderr)
        return
    repeats = max(1, settings.repeats // 2)  # a minute a repeat
    case = f"{ITEMS:,} items sleeping {SLEEP * 1000:g} ms in {SHARDS} shard processes"
    with cluster:
        for backend in settings.backends:
            seconds = interleaved_sides(
                {
                    "spread": functools.partial(postgres_seconds, cluster, backend, ITEMS, SHARDS),
                    "alone": functools.partial(postgres_seconds, cluster, backend, ITEMS, 1),
                    "unstored": functools.partial(
                        processes_seconds, "memory://shards", backend, ITEMS, SHARDS
                    ),
                },
                repeats,
            )
            for baseline, bound, label in (
                ("alone", 0.4, "1 process"),
                ("unstored", 1.25, "4 on memory://"),
            ):
                yield Row(
                    "postgres-shards",
                    case,
                    backend,
                    SHARD_WINDOW,
                    "seconds",
                    seconds["spread"],
                    seconds[baseline],
                    ratio_at_most(bound),
                    baseline=label,
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="run one shard process of postgres-shards")
    parser.add_argument("url")
    parser.add_argument("backend")
    parser.add_argument("items", type=int)
    parser.add_argument("shard", help="I/N, or whole")
    arguments = parser.parse_args()
    ran = run_shard(arguments.url, arguments.backend, arguments.items, arguments.shard)
    print(json.dumps({"ran": ran}))
