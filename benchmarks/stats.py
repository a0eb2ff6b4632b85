"""The statistics layer: cost per folded score, and flat memory over a million pairs.

Exact sums cost more per value than a bare ``float +=`` (the baseline column, shown for
scale; the targets bound doteval's own numbers): a score costs microseconds where an
LLM call costs hundreds of milliseconds. Memory is the tracemalloc peak while folding
values produced one at a time, so only what the accumulator keeps counts.
"""

from __future__ import annotations

import random
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator

from benchmarks.registry import Row, Settings, below, benchmark
from doteval._private.stats import ClusterSums, Moments, PairedAccumulator, t_isf

BACKEND = "-"  # no event loop involved


def _per_value_us(
    fold: Callable[[list[float]], object], values: list[float], repeats: int
) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        fold(values)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) / len(values) * 1e6


def _moments(values: Iterable[float]) -> object:
    moments = Moments()
    for value in values:
        moments.add(value)
    return moments.estimate()


def _paired(values: Iterable[float]) -> object:
    accumulator = PairedAccumulator()
    for value in values:
        accumulator.add(value, 1.0 - value)
    return accumulator.difference()


def _bare(values: list[float]) -> object:
    total = squares = 0.0
    for value in values:
        total += value
        squares += value * value
    return total, squares


def _peak_mb(fold: Callable[[Iterator[float]], object], values: Iterator[float]) -> float:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start, _ = tracemalloc.get_traced_memory()
        fold(values)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (peak - start) / 1e6


def _stream(count: int, seed: int = 0) -> Iterator[float]:
    rng = random.Random(seed)
    for _ in range(count):
        yield rng.random()


def _clustered(values: Iterator[float]) -> object:
    sums = ClusterSums()
    for index, value in enumerate(values):
        sums.add(index % 1000, value)
    return sums.estimate()


@benchmark("stats", order=90)
def stats_benchmark(settings: Settings) -> Iterator[Row]:
    repeats = settings.repeats
    values = list(_stream(50_000 if settings.quick else 200_000))
    bare = _per_value_us(_bare, values, repeats)
    for case, fold in (("Moments.add", _moments), ("PairedAccumulator.add", _paired)):
        cost = _per_value_us(fold, values, repeats)
        yield Row("stats", f"{case}, {len(values):,} scores", BACKEND, 0, "us/score", cost,
                  bare, below(5), baseline="float +=")  # fmt: skip
    pairs = 200_000 if settings.quick else 1_000_000
    yield Row("stats", f"PairedAccumulator, {pairs:,} pairs streamed", BACKEND, 0,
              "tracemalloc peak MB", _peak_mb(_paired, _stream(pairs)), 0.0, below(1),
              baseline="-")  # fmt: skip
    yield Row("stats", f"ClusterSums, {pairs:,} scores in 1,000 clusters", BACKEND, 0,
              "tracemalloc peak MB", _peak_mb(_clustered, _stream(pairs)), 0.0, below(2),
              baseline="-")  # fmt: skip
    started = time.perf_counter()
    for df in range(1, 201):
        t_isf(0.025, df + 0.5)
    per_call = (time.perf_counter() - started) / 200 * 1e6
    yield Row("stats", "t quantile, df 1.5 to 200.5", BACKEND, 0, "us/call", per_call, 0.0,
              below(2000), baseline="-")  # fmt: skip
