"""(b) Items that wait on I/O: doteval must add almost nothing to the wall time."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator

import anyio

import doteval
from benchmarks.baseline import bare_pool
from benchmarks.measure import RUN_OPTIONS, check, interleaved, on_backend
from benchmarks.registry import Row, Settings, benchmark, ratio_at_most
from doteval.evaluators import exact_match

ITEMS = 2_000
WINDOW = 100
SLEEP = 0.05
TARGET = ratio_at_most(1.10)


async def nap(a: int) -> doteval.Score:
    await anyio.sleep(SLEEP)
    return exact_match(a, a)


async def doteval_wall() -> float:
    evaluation = doteval.foreach("a", range(ITEMS))(nap)
    started = time.perf_counter()
    result = await evaluation(max_concurrency=WINDOW, **RUN_OPTIONS)
    elapsed = time.perf_counter() - started
    check(
        result.counts.total == ITEMS and result.summary["exact_match"]["accuracy"] == 1.0,
        f"doteval ran {result.counts} with summary {result.summary}",
    )
    return elapsed


async def bare_wall() -> float:
    started = time.perf_counter()
    correct = await bare_pool(range(ITEMS), nap, WINDOW)
    elapsed = time.perf_counter() - started
    check(correct == ITEMS, f"the bare pool scored {correct} of {ITEMS}")
    return elapsed


@benchmark("latency", order=20)
def latency(settings: Settings) -> Iterator[Row]:
    for backend in settings.backends:
        dot, bare = interleaved(
            functools.partial(on_backend, backend, doteval_wall),
            functools.partial(on_backend, backend, bare_wall),
            settings.repeats,
        )
        yield Row(
            "latency",
            f"{ITEMS:,} items sleeping {SLEEP * 1000:g} ms",
            backend,
            WINDOW,
            "wall s",
            dot,
            bare,
            TARGET,
        )
