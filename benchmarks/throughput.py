"""(a) Throughput of no-op items: doteval's overhead per item against bare pools.

- ``throughput``: 100,000 no-op items at windows 10 and 100, progress off, beside
  two bare anyio pools measured in the same rounds: the blocking one (doteval on
  ``memory://`` keeps at least half of it) and the tuned one, which hands items over
  without a checkpoint whenever it can, the floor over anyio's streams (doteval keeps
  at least 0.35 of it on ``memory://`` and 0.25 on SQLite, its default store).
- ``window-scaling``: doteval on ``memory://`` at windows 1,000 and 5,000 keeps at
  least 0.7 of its own throughput at window 10, and the items in flight reach the
  window.
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator

import anyio

import doteval
from benchmarks.baseline import bare_pool, tuned_pool
from benchmarks.measure import RUN_OPTIONS, check, interleaved_sides, on_backend
from benchmarks.registry import Row, Settings, benchmark, ratio_at_least, scaled
from doteval.evaluators import exact_match

ITEMS = scaled(100_000)
WINDOWS = (10, 100)
WIDE_WINDOWS = (1_000, 5_000)
WARM_UP_ITEMS = scaled(2_000)


async def noop(a: int) -> doteval.Score:
    return exact_match(a, a)


async def doteval_rate(items: int, window: int, storage: str = RUN_OPTIONS["storage"]) -> float:
    """Items per second of one doteval run, blocking-call watchdog on (the default)."""
    evaluation = doteval.foreach("a", range(items))(noop)
    started = time.perf_counter()
    result = await evaluation(max_concurrency=window, **{**RUN_OPTIONS, "storage": storage})
    elapsed = time.perf_counter() - started
    check(
        result.counts.total == items and result.summary["exact_match"]["accuracy"] == 1.0,
        f"doteval ran {result.counts} with summary {result.summary}",
    )
    return items / elapsed


def sqlite_rate(backend: str, items: int, window: int) -> float:
    with tempfile.TemporaryDirectory() as directory:
        return on_backend(backend, doteval_rate, items, window, f"sqlite://{directory}/doteval.db")


async def pool_rate(pool: Callable[..., Awaitable[int]], items: int, window: int) -> float:
    started = time.perf_counter()
    correct = await pool(range(items), noop, window)
    elapsed = time.perf_counter() - started
    check(correct == items, f"the bare pool scored {correct} of {items}")
    return items / elapsed


def sides(backend: str, items: int, window: int) -> dict[str, Callable[[], float]]:
    return {
        "memory": functools.partial(on_backend, backend, doteval_rate, items, window),
        "sqlite": functools.partial(sqlite_rate, backend, items, window),
        "bare": functools.partial(on_backend, backend, pool_rate, bare_pool, items, window),
        "tuned": functools.partial(on_backend, backend, pool_rate, tuned_pool, items, window),
    }


@benchmark("throughput", order=10)
def throughput(settings: Settings) -> Iterator[Row]:
    for backend in settings.backends:
        for window in WINDOWS:
            for warm_up in sides(backend, WARM_UP_ITEMS, window).values():
                warm_up()
            rate = interleaved_sides(sides(backend, ITEMS, window), settings.repeats)
            case = f"{ITEMS:,} no-op items"
            for store, baseline, bound in (
                ("memory", "bare", 0.5),
                ("memory", "tuned", 0.35),
                ("sqlite", "tuned", 0.25),
            ):
                yield Row(
                    "throughput",
                    f"{case} on {store}://",
                    backend,
                    window,
                    "items/s",
                    rate[store],
                    rate[baseline],
                    ratio_at_least(bound),
                    baseline="bare anyio" if baseline == "bare" else "tuned bare anyio",
                )


async def peak_in_flight(window: int) -> float:
    """How many items one run has in flight at once, at most (each waits until the
    window is full, or a second passes)."""
    now = peak = 0
    full = anyio.Event()

    async def visit(a: int) -> doteval.Score:
        nonlocal now, peak
        now += 1
        peak = max(peak, now)
        if now >= window:
            full.set()
        with anyio.move_on_after(1):
            await full.wait()
        now -= 1
        return exact_match(a, a)

    await doteval.foreach("a", range(2 * window))(visit)(max_concurrency=window, **RUN_OPTIONS)
    return peak


@benchmark("window-scaling", order=11)
def window_scaling(settings: Settings) -> Iterator[Row]:
    for backend in settings.backends:
        for window in WIDE_WINDOWS:
            peak = on_backend(backend, peak_in_flight, window)
            check(peak == window, f"at most {peak:g} items ran at once at window {window}")
            narrow = functools.partial(on_backend, backend, doteval_rate, ITEMS, WINDOWS[0])
            wide = functools.partial(on_backend, backend, doteval_rate, ITEMS, window)
            wide(), narrow()  # warm up
            rate = interleaved_sides({"wide": wide, "narrow": narrow}, settings.repeats)
            yield Row(
                "window-scaling",
                f"{ITEMS:,} no-op items on memory://",
                backend,
                window,
                "items/s",
                rate["wide"],
                rate["narrow"],
                ratio_at_least(0.7),
                baseline=f"doteval at window {WINDOWS[0]}",
            )
