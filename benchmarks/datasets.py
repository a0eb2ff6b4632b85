"""(h) A million-line JSON-lines file streamed through ``doteval.datasets.jsonl``.

Both sides are the same doteval run (no-op items, window 100, ``keep_records=False``,
an SQLite store in a scratch directory): one over ``jsonl(path)``, the other over an
in-memory list of the same row dicts, so the throughput ratio is the cost of reading
and parsing the file. The memory rows measure each side in a fresh interpreter
(``python -m benchmarks.datasets SIDE BACKEND ITEMS``): the file side writes its file
line by line, then streams it; the list side builds its list, which is what streaming
saves.
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import doteval
from benchmarks.measure import (
    RUN_OPTIONS,
    check,
    interleaved,
    on_backend,
    rss_growth_in_subprocess,
    rss_growth_main,
)
from benchmarks.registry import Row, Settings, below, benchmark, ratio_at_least, scaled
from benchmarks.throughput import noop
from doteval.datasets import jsonl

ITEMS = scaled(1_000_000)
WINDOW = 100
WARM_UP_ITEMS = scaled(2_000)
THROUGHPUT = ratio_at_least(0.8)
MEMORY = below(100)
BASELINE = "in-memory list"


def write_rows(path: Path, items: int) -> Path:
    """``{"a": i}`` per line, written a buffer at a time (the writer holds no rows)."""
    with path.open("w", encoding="utf-8") as handle:
        for item in range(items):
            handle.write(f'{{"a": {item}}}\n')
    return path


def rows(items: int) -> list[dict[str, Any]]:
    """What ``jsonl()`` yields for the file of :func:`write_rows`, held in memory."""
    return [{"a": item} for item in range(items)]


async def run(dataset: Iterable[Any], items: int, directory: Path) -> float:
    """Items per second of one run over ``dataset``."""
    evaluation = doteval.foreach("a", dataset)(noop)
    started = time.perf_counter()
    result = await evaluation(
        max_concurrency=WINDOW,
        keep_records=False,
        **{**RUN_OPTIONS, "storage": f"sqlite://{directory / 'doteval.db'}"},
    )
    elapsed = time.perf_counter() - started
    check(
        result.counts.total == items and result.summary["exact_match"]["accuracy"] == 1.0,
        f"doteval ran {result.counts} with summary {result.summary}",
    )
    return items / elapsed


def scratch_run(dataset: Iterable[Any], items: int, backend: str) -> float:
    with tempfile.TemporaryDirectory() as directory:
        return on_backend(backend, run, dataset, items, Path(directory))


async def file_side(items: int, directory: Path) -> None:
    await run(jsonl(write_rows(directory / "rows.jsonl", items)), items, directory)


async def list_side(items: int, directory: Path) -> None:
    await run(rows(items), items, directory)


@benchmark("datasets", order=35)
def datasets(settings: Settings) -> Iterator[Row]:
    with tempfile.TemporaryDirectory() as directory:
        warm_up = jsonl(write_rows(Path(directory) / "warm-up.jsonl", WARM_UP_ITEMS))
        streamed = jsonl(write_rows(Path(directory) / "rows.jsonl", ITEMS))
        in_memory = rows(ITEMS)
        for backend in settings.backends:
            scratch_run(warm_up, WARM_UP_ITEMS, backend)
            scratch_run(rows(WARM_UP_ITEMS), WARM_UP_ITEMS, backend)
            dot, listed = interleaved(
                functools.partial(scratch_run, streamed, ITEMS, backend),
                functools.partial(scratch_run, in_memory, ITEMS, backend),
                settings.repeats,
            )
            yield Row(
                "datasets",
                f"{ITEMS:,}-line jsonl() file, keep_records=False, SQLite",
                backend,
                WINDOW,
                "items/s",
                dot,
                listed,
                THROUGHPUT,
                BASELINE,
            )
    for backend in settings.backends:
        growth = {
            side: rss_growth_in_subprocess(__name__, side, backend, ITEMS)
            for side in ("file", "list")
        }
        yield Row(
            "datasets",
            f"{ITEMS:,}-line jsonl() file, keep_records=False, SQLite, own process",
            backend,
            WINDOW,
            "RSS growth MB",
            growth["file"],
            growth["list"],
            MEMORY,
            BASELINE,
        )


if __name__ == "__main__":
    rss_growth_main({"file": file_side, "list": list_side}, WARM_UP_ITEMS)
