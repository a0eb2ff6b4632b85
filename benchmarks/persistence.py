"""Persistence: what storing every record costs, how fast a big experiment resumes, and
that a million-item run on SQLite stays in flat memory.

- ``persistence``: 100,000 no-op items on a fresh SQLite store against ``memory://``
  (the store that does least): SQLite keeps at least 80 % of the throughput.
- ``resume``: an experiment of 1,000,000 items with 999,000 done, on SQLite and on
  JSON lines; from the call to the first new item evaluated takes under 5 s (beside it:
  the same for a fresh run, to show what the call itself costs). Each stored experiment
  is built once by a real run and copied for each measurement.
- ``persistence-memory``: 1,000,000 items on SQLite with the default options (records
  kept in the store and read lazily), in a fresh interpreter (``python -m
  benchmarks.persistence SIDE BACKEND ITEMS``): peak RSS growth under 100 MB, beside the
  bare pool's.
"""

from __future__ import annotations

import functools
import gc
import shutil
import tempfile
import time
from collections.abc import Iterator, Sized
from pathlib import Path

import anyio

import doteval
from benchmarks.measure import RUN_OPTIONS, check, interleaved, on_backend
from benchmarks.memory import growth_rows, main
from benchmarks.registry import Row, Settings, below, benchmark, ratio_at_least, scaled
from benchmarks.throughput import noop

ITEMS = scaled(100_000)
WINDOW = 100
BIG = scaled(1_000_000)
DONE = BIG - BIG // 1_000
WARM_UP_ITEMS = scaled(2_000)


async def rate(items: int, storage: str) -> float:
    evaluation = doteval.foreach("a", range(items))(noop)
    started = time.perf_counter()
    result = await evaluation(max_concurrency=WINDOW, **{**RUN_OPTIONS, "storage": storage})
    elapsed = time.perf_counter() - started
    check(result.counts.total == items, f"ran {result.counts}")
    return items / elapsed


def sqlite_rate(backend: str, items: int) -> float:
    with tempfile.TemporaryDirectory() as directory:
        return on_backend(backend, rate, items, f"sqlite://{directory}/doteval.db")


def memory_rate(backend: str, items: int) -> float:
    return on_backend(backend, rate, items, RUN_OPTIONS["storage"])


@benchmark("persistence", order=40)
def throughput(settings: Settings) -> Iterator[Row]:
    for backend in settings.backends:
        sqlite_rate(backend, WARM_UP_ITEMS)
        memory_rate(backend, WARM_UP_ITEMS)
        stored, memory = interleaved(
            functools.partial(sqlite_rate, backend, ITEMS),
            functools.partial(memory_rate, backend, ITEMS),
            settings.repeats,
        )
        yield Row(
            "persistence",
            f"{ITEMS:,} no-op items on sqlite://",
            backend,
            WINDOW,
            "items/s",
            stored,
            memory,
            ratio_at_least(0.8),
            baseline="memory://",
        )


FIRST_CALL: list[float] = []


async def timed(a: int) -> doteval.Score:
    """The no-op item, noting when the first one of a run starts."""
    if not FIRST_CALL:
        FIRST_CALL.append(time.perf_counter())
    return await noop(a)


def big_evaluation() -> doteval.Evaluation:
    """The same evaluation (same identity) for the set-up run and the resumed ones."""
    return doteval.foreach("a", lambda: iter(range(BIG)))(timed)


async def first_new_item(store: str, experiment: str) -> float:
    """Seconds from the call to the first item the run evaluates (it then runs to the end)."""
    FIRST_CALL.clear()
    evaluation = big_evaluation()
    started = time.perf_counter()
    result = await evaluation(
        experiment=experiment, max_concurrency=WINDOW, **{**RUN_OPTIONS, "storage": store}
    )
    check(result.counts.total == BIG, f"the resumed run covers {result.counts}")
    check(result.summary["exact_match"]["accuracy"] == 1.0, f"summary {result.summary}")
    return FIRST_CALL[0] - started


STORES = {"sqlite": "SQLite", "jsonl": "JSON lines"}


def store_url(kind: str, path: Path) -> str:
    return f"sqlite://{path / 'doteval.db'}" if kind == "sqlite" else f"jsonl://{path}"


def build_experiment(kind: str, directory: Path) -> Path:
    """A stored experiment of ``BIG`` items with ``DONE`` done, made by a real run."""
    path = directory / f"done-{kind}"
    result = anyio.run(
        functools.partial(
            big_evaluation(),
            experiment="big",
            samples=DONE,
            max_concurrency=WINDOW,
            **{**RUN_OPTIONS, "storage": store_url(kind, path)},
        )
    )
    check(result.counts.total == DONE, f"the setup run covers {result.counts}")
    return path


def resume_latency(backend: str, kind: str, stored: Path, directory: Path) -> float:
    copy = directory / "resumed"
    shutil.copytree(stored, copy)
    try:
        gc.collect()
        return anyio.run(first_new_item, store_url(kind, copy), "big", backend=backend)
    finally:
        shutil.rmtree(copy)


def fresh_latency(backend: str, kind: str, directory: Path) -> float:
    store = directory / "fresh"
    try:
        return anyio.run(first_new_item, store_url(kind, store), "fresh", backend=backend)
    finally:
        shutil.rmtree(store)


@benchmark("resume", order=41)
def resume(settings: Settings) -> Iterator[Row]:
    for kind, name in STORES.items():
        with tempfile.TemporaryDirectory() as scratch:
            directory = Path(scratch)
            stored = build_experiment(kind, directory)
            for backend in settings.backends:
                resumed, fresh = interleaved(
                    functools.partial(resume_latency, backend, kind, stored, directory),
                    functools.partial(fresh_latency, backend, kind, directory),
                    settings.repeats,
                )
                yield Row(
                    "resume",
                    f"{BIG:,} items, {DONE:,} done on {name}: call to first new item",
                    backend,
                    WINDOW,
                    "seconds",
                    resumed,
                    fresh,
                    below(5),
                    baseline="a fresh run",
                )


async def run_stored(items: int, directory: Path) -> None:
    evaluation = doteval.foreach("a", lambda: iter(range(items)))(noop)
    result = await evaluation(
        max_concurrency=WINDOW,
        **{**RUN_OPTIONS, "storage": f"sqlite://{directory / 'doteval.db'}"},
    )
    check(result.counts.total == items, f"ran {result.counts}")
    records = result.records
    check(isinstance(records, Sized) and len(records) == items, "the lazy records cover the run")
    check(not isinstance(result.records, (list, tuple)), "records kept in memory")


@benchmark("persistence-memory", order=42)
def memory(settings: Settings) -> Iterator[Row]:
    case = f"{BIG:,} items on SQLite, default options (lazy records), own process"
    return growth_rows(settings, __name__, "persistence-memory", case, run_stored, BIG)


if __name__ == "__main__":
    main(run_stored)
