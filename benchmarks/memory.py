"""(c) A million streamed items without per-item records: memory must stay O(window).

A run keeps no records in memory only when they go to a disk store, so the doteval
side uses ``keep_records=False`` with an SQLite store in a temporary directory
(``memory://`` keeps every record by design). Each side runs in a fresh interpreter
(``python -m benchmarks.memory SIDE BACKEND ITEMS``) so that no other benchmark's
allocations count; the growth is the rise of the process's peak RSS (``VmHWM``)
over the run, after a small warm-up run has done the imports and first allocations.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import doteval
from benchmarks.baseline import bare_pool
from benchmarks.measure import RUN_OPTIONS, Side, check, rss_growth_in_subprocess, rss_growth_main
from benchmarks.registry import Row, Settings, below, benchmark
from benchmarks.throughput import noop

ITEMS = 1_000_000
WINDOW = 100
WARM_UP_ITEMS = 1_000
TARGET = below(100)


def stream(items: int) -> Iterator[int]:
    yield from range(items)


async def run_doteval(items: int, directory: Path) -> None:
    evaluation = doteval.foreach("a", stream(items))(noop)
    result = await evaluation(
        max_concurrency=WINDOW,
        keep_records=False,
        **{**RUN_OPTIONS, "storage": f"sqlite://{directory / 'doteval.db'}"},
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
    settings: Settings, module: str, name: str, case: str, doteval_side: Side, items: int
) -> Iterator[Row]:
    """Peak RSS growth of ``doteval_side`` beside :func:`run_bare`, each in a fresh
    interpreter running ``python -m module`` (which ends with :func:`main`)."""
    for backend in settings.backends:
        growth = {
            side: rss_growth_in_subprocess(module, side, backend, items)
            for side in ("doteval", "bare")
        }
        yield Row(
            name,
            case,
            backend,
            WINDOW,
            "RSS growth MB",
            growth["doteval"],
            growth["bare"],
            TARGET,
        )


def main(doteval_side: Side) -> None:
    rss_growth_main({"doteval": doteval_side, "bare": run_bare}, WARM_UP_ITEMS)


@benchmark("memory", order=30)
def memory(settings: Settings) -> Iterator[Row]:
    case = f"{ITEMS:,} streamed items, keep_records=False, SQLite, own process"
    return growth_rows(settings, __name__, "memory", case, run_doteval, ITEMS)


if __name__ == "__main__":
    main(run_doteval)
