"""(c) A million streamed items without per-item records: memory must stay O(window).

The doteval side runs with ``keep_records=False`` on each store: SQLite and JSON
lines in a temporary directory, and ``memory://``, which then keeps which items
finished but not their records. Each side runs in a fresh interpreter (``python -m
benchmarks.memory SIDE BACKEND ITEMS``, SIDE one of ``sqlite``, ``jsonl``, ``memory``
or ``bare``) so that no other benchmark's allocations count; the growth is the rise
of the process's peak RSS (``VmHWM``) over the run, after a small warm-up run has done
the imports and first allocations.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from pathlib import Path

import doteval
from benchmarks.baseline import bare_pool
from benchmarks.measure import RUN_OPTIONS, Side, check, rss_growth_in_subprocess, rss_growth_main
from benchmarks.registry import Row, Settings, below, benchmark, scaled
from benchmarks.throughput import noop

ITEMS = scaled(1_000_000)
WINDOW = 100
WARM_UP_ITEMS = scaled(1_000)
TARGET = below(50)
STORES = ("sqlite", "jsonl", "memory")


def stream(items: int) -> Iterator[int]:
    yield from range(items)


def store_url(store: str, directory: Path) -> str:
    """A fresh store of the kind ``store`` (``memory://`` named after ``directory``)."""
    if store == "memory":
        return f"memory://{directory.name}"
    return f"{store}://{directory / ('doteval.db' if store == 'sqlite' else 'runs')}"


async def run_doteval(items: int, directory: Path, store: str = "sqlite") -> None:
    evaluation = doteval.foreach("a", stream(items))(noop)
    result = await evaluation(
        max_concurrency=WINDOW,
        keep_records=False,
        **{**RUN_OPTIONS, "storage": store_url(store, directory)},
    )
    # A disk store's records are read lazily; a list or tuple would be held in memory.
    kept = len(result.records) if isinstance(result.records, (list, tuple)) else 0
    check(
        result.counts.total == items and kept == 0,
        f"doteval ran {result.counts} and kept {kept} records in memory",
    )


async def run_bare(items: int, directory: Path) -> None:
    """The bare side of every memory benchmark: the same stream through a bare pool."""
    correct = await bare_pool(stream(items), noop, WINDOW)
    check(correct == items, f"the bare pool scored {correct} of {items}")


def growth_rows(
    settings: Settings,
    module: str,
    name: str,
    case: str,
    doteval_side: Side,
    items: int,
    side: str = "doteval",
) -> Iterator[Row]:
    """Peak RSS growth of the doteval side named ``side`` beside :func:`run_bare`, each
    in a fresh interpreter running ``python -m module`` (which ends with :func:`main`)."""
    for backend in settings.backends:
        growth = {
            measured: rss_growth_in_subprocess(module, measured, backend, items)
            for measured in (side, "bare")
        }
        yield Row(
            name,
            case,
            backend,
            WINDOW,
            "RSS growth MB",
            growth[side],
            growth["bare"],
            TARGET,
        )


def main(doteval_side: Side, others: Mapping[str, Side] | None = None) -> None:
    sides = {"doteval": doteval_side, "bare": run_bare, **(others or {})}
    rss_growth_main(sides, WARM_UP_ITEMS)


@benchmark("memory", order=30)
def memory(settings: Settings) -> Iterator[Row]:
    for store in STORES:
        case = f"{ITEMS:,} streamed items, keep_records=False, {store}://, own process"
        yield from growth_rows(settings, __name__, "memory", case, run_doteval, ITEMS, store)


if __name__ == "__main__":
    main(run_doteval, {store: functools.partial(run_doteval, store=store) for store in STORES})
