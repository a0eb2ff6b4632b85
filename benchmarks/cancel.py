"""Cancellation latency: how long a run with 1,000 items in flight takes to stop."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import anyio

import doteval
from benchmarks.baseline import bare_pool
from benchmarks.measure import RUN_OPTIONS, check, interleaved, on_backend
from benchmarks.registry import Row, Settings, below, benchmark
from doteval.evaluators import exact_match

ITEMS = 1_000
WINDOW = 1_000
TARGET = below(100)


@dataclass
class Probe:
    """Counts items as they start, and tells when all of them are in flight."""

    expected: int
    started: int = 0
    all_started: anyio.Event = field(default_factory=anyio.Event)


async def hang(a: int, probe: Probe) -> doteval.Score:
    probe.started += 1
    if probe.started == probe.expected:
        probe.all_started.set()
    await anyio.sleep_forever()
    return exact_match(a, a)


async def cancel_latency(call: Callable[[Probe], Awaitable[object]]) -> float:
    """Milliseconds from cancelling the caller's scope to ``call`` returning."""
    probe = Probe(ITEMS)
    scope = anyio.CancelScope()
    returned = float("nan")

    async def caller() -> None:
        nonlocal returned
        with scope:
            await call(probe)
        returned = time.perf_counter()

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(caller)
        with anyio.fail_after(60):
            await probe.all_started.wait()
        cancelled = time.perf_counter()
        scope.cancel()
    check(scope.cancelled_caught, "the call returned before it was cancelled")
    return (returned - cancelled) * 1000


async def doteval_call(probe: Probe) -> object:
    evaluation = doteval.foreach("a", range(ITEMS))(hang)
    return await evaluation(probe=probe, max_concurrency=WINDOW, **RUN_OPTIONS)


async def bare_call(probe: Probe) -> object:
    return await bare_pool(range(ITEMS), functools.partial(hang, probe=probe), WINDOW)


@benchmark("cancel", order=40)
def cancel(settings: Settings) -> Iterator[Row]:
    for backend in settings.backends:
        dot, bare = interleaved(
            functools.partial(on_backend, backend, cancel_latency, doteval_call),
            functools.partial(on_backend, backend, cancel_latency, bare_call),
            settings.repeats,
        )
        yield Row(
            "cancel",
            f"{ITEMS:,} items in flight, cancel the caller",
            backend,
            WINDOW,
            "cancel→return ms",
            dot,
            bare,
            TARGET,
        )
