"""``postgres``: what storing every record on a PostgreSQL server costs beside SQLite.

100,000 no-op items on a fresh ``postgresql://`` database on loopback against the
same on a fresh SQLite store: postgres keeps at least half of SQLite's throughput.
The server is a throwaway cluster started here as the tests start theirs
(tests/postgres_server.py), with PostgreSQL's default durability (``fsync`` on); a
machine without the server binaries skips the rows, saying which binary is missing.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
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
