"""(b) Items that wait on I/O: doteval must add almost nothing to the wall time.

Measured on ``memory://`` (at most 1.10 of a bare pool's wall time) and on SQLite, the
default store, which must stay within 1.05 of it (issue 14: storing every record may
not slow a latency-bound run).
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Iterator

import anyio

import doteval
from benchmarks.baseline import bare_pool
from benchmarks.measure import RUN_OPTIONS, check, interleaved_sides, on_backend
from benchmarks.registry import Row, Settings, benchmark, ratio_at_most, scaled
from doteval.evaluators import exact_match

ITEMS = scaled(2_000)
WINDOW = 100
SLEEP = 0.05
TARGET = ratio_at_most(1.10)
SQLITE_TARGET = ratio_at_most(1.05)


async def nap(a: int) -> doteval.Score:
    await anyio.sleep(SLEEP)
    return exact_match(a, a)


async def doteval_wall(storage: str = RUN_OPTIONS["storage"]) -> float:
    evaluation = doteval.foreach("a", range(ITEMS))(nap)
    started = time.perf_counter()
    result = await evaluation(max_concurrency=WINDOW, **{**RUN_OPTIONS, "storage": storage})
    elapsed = time.perf_counter() - started
    check(
        result.counts.total == ITEMS and result.summary["exact_match"]["accuracy"] == 1.0,
        f"doteval ran {result.counts} with summary {result.summary}",
    )
    return elapsed


def sqlite_wall(backend: str) -> float:
    with tempfile.TemporaryDirectory() as directory:
        return on_backend(backend, doteval_wall, f"sqlite://{directory}/doteval.db")


async def bare_wall() -> float:
    started = time.perf_counter()
    correct = await bare_pool(range(ITEMS), nap, WINDOW)
    elapsed = time.perf_counter() - started
    check(correct == ITEMS, f"the bare pool scored {correct} of {ITEMS}")
    return elapsed


@benchmark("latency", order=20)
def latency(settings: Settings) -> Iterator[Row]:
    for backend in settings.backends:
        rounds = interleaved_sides(
            {
                "memory": functools.partial(on_backend, backend, doteval_wall),
                "sqlite": functools.partial(sqlite_wall, backend),
                "bare": functools.partial(on_backend, backend, bare_wall),
            },
            settings.repeats,
        )
        for store, target in (("memory", TARGET), ("sqlite", SQLITE_TARGET)):
            yield Row(
                "latency",
                f"{ITEMS:,} items sleeping {SLEEP * 1000:g} ms on {store}://",
                backend,
                WINDOW,
                "wall s",
                rounds[store],
                rounds["bare"],
                target,
            )
