"""(a) Throughput of no-op items: doteval's overhead per item against a bare pool."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator

import doteval
from benchmarks.baseline import bare_pool
from benchmarks.measure import RUN_OPTIONS, check, interleaved, on_backend
from benchmarks.registry import Row, Settings, benchmark, ratio_at_least
from doteval.evaluators import exact_match

ITEMS = 100_000
WINDOWS = (10, 100)
WARM_UP_ITEMS = 2_000
TARGET = ratio_at_least(0.5)


async def noop(a: int) -> doteval.Score:
    return exact_match(a, a)


async def doteval_rate(items: int, window: int) -> float:
    """Items per second of one doteval run, blocking-call watchdog on (the default)."""
    evaluation = doteval.foreach("a", range(items))(noop)
    started = time.perf_counter()
    result = await evaluation(max_concurrency=window, **RUN_OPTIONS)
    elapsed = time.perf_counter() - started
    check(
        result.counts.total == items and result.summary["exact_match"]["accuracy"] == 1.0,
        f"doteval ran {result.counts} with summary {result.summary}",
    )
    return items / elapsed


async def bare_rate(items: int, window: int) -> float:
    started = time.perf_counter()
    correct = await bare_pool(range(items), noop, window)
    elapsed = time.perf_counter() - started
    check(correct == items, f"the bare pool scored {correct} of {items}")
    return items / elapsed


@benchmark("throughput", order=10)
def throughput(settings: Settings) -> Iterator[Row]:
    for backend in settings.backends:
        for window in WINDOWS:
            on_backend(backend, doteval_rate, WARM_UP_ITEMS, window)
            on_backend(backend, bare_rate, WARM_UP_ITEMS, window)
            dot, bare = interleaved(
                functools.partial(on_backend, backend, doteval_rate, ITEMS, window),
                functools.partial(on_backend, backend, bare_rate, ITEMS, window),
                settings.repeats,
            )
            yield Row(
                "throughput",
                f"{ITEMS:,} no-op items",
                backend,
                window,
                "items/s",
                dot,
                bare,
                TARGET,
            )
