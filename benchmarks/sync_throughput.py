"""Throughput of no-op plain ``def`` items: doteval's own daemon threads against a bare
pool that calls ``anyio.to_thread.run_sync`` under a limiter of the window's size (what
doteval itself did before its calls could be abandoned)."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator

import anyio

import doteval
from benchmarks.baseline import bare_pool
from benchmarks.measure import RUN_OPTIONS, check, interleaved, on_backend
from benchmarks.registry import Row, Settings, benchmark, ratio_at_least, scaled
from doteval.evaluators import exact_match

ITEMS = scaled(20_000)
WINDOWS = (1, 10, 100)
WARM_UP_ITEMS = scaled(500)
TARGET = ratio_at_least(0.5)
TIMEOUT = 60.0
"""The ``timeout=`` of the timed case: never reached, it only adds the cancel scope."""


def noop(a: int) -> doteval.Score:
    return exact_match(a, a)


async def doteval_rate(items: int, window: int, item_timeout: float | None) -> float:
    evaluation = doteval.foreach("a", range(items))(noop)
    started = time.perf_counter()
    result = await evaluation(max_concurrency=window, timeout=item_timeout, **RUN_OPTIONS)
    elapsed = time.perf_counter() - started
    check(
        result.counts.total == items and result.summary["exact_match"]["accuracy"] == 1.0,
        f"doteval ran {result.counts} with summary {result.summary}",
    )
    return items / elapsed


async def bare_rate(items: int, window: int, item_timeout: float | None) -> float:
    """The bare pool has no timeout: the same baseline for the timed and untimed cases."""
    limiter = anyio.CapacityLimiter(window)

    async def item(a: int) -> doteval.Score:
        return await anyio.to_thread.run_sync(noop, a, limiter=limiter)

    started = time.perf_counter()
    correct = await bare_pool(range(items), item, window)
    elapsed = time.perf_counter() - started
    check(correct == items, f"the bare pool scored {correct} of {items}")
    return items / elapsed


@benchmark("sync_throughput", order=15)
def sync_throughput(settings: Settings) -> Iterator[Row]:
    for backend in settings.backends:
        for window in WINDOWS:
            for timeout in (None, TIMEOUT):
                on_backend(backend, doteval_rate, WARM_UP_ITEMS, window, timeout)
                on_backend(backend, bare_rate, WARM_UP_ITEMS, window, timeout)
                dot, bare = interleaved(
                    functools.partial(on_backend, backend, doteval_rate, ITEMS, window, timeout),
                    functools.partial(on_backend, backend, bare_rate, ITEMS, window, timeout),
                    settings.repeats,
                )
                timed = "" if timeout is None else f", timeout={timeout:g}"
                yield Row(
                    "sync_throughput",
                    f"{ITEMS:,} no-op def items{timed}",
                    backend,
                    window,
                    "items/s",
                    dot,
                    bare,
                    TARGET,
                    baseline="anyio.to_thread pool",
                )
