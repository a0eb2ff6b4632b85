"""(i) Throughput of no-op items through ``@batch`` against ``@foreach`` of the same items.

Both sides are doteval runs of the same 100,000 no-op items at window 10: one
scores them in batches of 32 (one call, one admission to the window and one
handed-out job per 32 items), the other one by one. The ratio is what batching
saves of the engine's per-item cost; records, storage and the aggregator remain
per item on both sides.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator, Sequence

import doteval
from benchmarks.measure import RUN_OPTIONS, check, interleaved, on_backend
from benchmarks.registry import Row, Settings, benchmark, ratio_at_least, scaled
from benchmarks.throughput import noop
from doteval.evaluators import exact_match

ITEMS = scaled(100_000)
WINDOW = 10
BATCH_SIZE = 32
WARM_UP_ITEMS = scaled(2_000)
TARGET = ratio_at_least(1.0)
"""A batch of items never costs more than the items one by one. (The target was 1.5
while ``@foreach`` handed each item through eight frames; its happy path is now a plain
call, and what remains per item, the record, the store and the aggregator, is the
same on both sides. What batching saves is the model's per-call cost, which no no-op
run measures.)"""


async def noop_batch(a: Sequence[int]) -> list[doteval.Score]:
    return [exact_match(value, value) for value in a]


async def rate(items: int, size: int | None) -> float:
    """Items per second of one run, in batches of ``size`` (``None``: ``@foreach``)."""
    if size is None:
        evaluation = doteval.foreach("a", range(items))(noop)
    else:
        evaluation = doteval.batch("a", range(items), batch_size=size)(noop_batch)
    started = time.perf_counter()
    result = await evaluation(max_concurrency=WINDOW, **RUN_OPTIONS)
    elapsed = time.perf_counter() - started
    check(
        result.counts.total == items and result.summary["exact_match"]["accuracy"] == 1.0,
        f"doteval ran {result.counts} with summary {result.summary}",
    )
    return items / elapsed


@benchmark("batch", order=15)
def batch(settings: Settings) -> Iterator[Row]:
    for backend in settings.backends:
        on_backend(backend, rate, WARM_UP_ITEMS, BATCH_SIZE)
        on_backend(backend, rate, WARM_UP_ITEMS, None)
        batched, single = interleaved(
            functools.partial(on_backend, backend, rate, ITEMS, BATCH_SIZE),
            functools.partial(on_backend, backend, rate, ITEMS, None),
            settings.repeats,
        )
        yield Row(
            "batch",
            f"{ITEMS:,} no-op items, @batch of {BATCH_SIZE}",
            backend,
            WINDOW,
            "items/s",
            batched,
            single,
            TARGET,
            "@foreach",
        )
