"""Progress: what the live display costs a run.

100,000 no-op items with the display drawing to a terminal (redrawn four times a
second; the output goes to /dev/null so the terminal's speed does not count) against
the same run with ``progress=False``: the display keeps at least 90 % of the
throughput. Both sides store into ``memory://``.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator

import doteval
from benchmarks.measure import RUN_OPTIONS, check, interleaved, on_backend
from benchmarks.registry import Row, Settings, benchmark, ratio_at_least, scaled
from benchmarks.throughput import noop
from doteval._private.progress.target import DisplayTarget, display_target
from doteval._private.storage.naming import fresh_experiment_name

ITEMS = scaled(100_000)
WINDOW = 100
WARM_UP_ITEMS = scaled(2_000)


async def rate(items: int, shown: bool) -> float:
    evaluation = doteval.foreach("a", range(items))(noop)
    started = time.perf_counter()
    # A fresh experiment each time: nothing to resume, and nothing to announce.
    options = {**RUN_OPTIONS, "progress": shown, "experiment": fresh_experiment_name()}
    result = await evaluation(max_concurrency=WINDOW, **options)
    elapsed = time.perf_counter() - started
    check(result.counts.total == items, f"ran {result.counts}")
    return items / elapsed


def measure(backend: str, items: int, shown: bool) -> float:
    with open(os.devnull, "w") as terminal:
        token = display_target.set(DisplayTarget(terminal, is_terminal=True, width=120))
        try:
            return on_backend(backend, rate, items, shown)
        finally:
            display_target.reset(token)


@benchmark("progress", order=50)
def progress(settings: Settings) -> Iterator[Row]:
    for backend in settings.backends:
        measure(backend, WARM_UP_ITEMS, True)
        measure(backend, WARM_UP_ITEMS, False)
        shown, hidden = interleaved(
            functools.partial(measure, backend, ITEMS, True),
            functools.partial(measure, backend, ITEMS, False),
            settings.repeats,
        )
        yield Row(
            "progress",
            f"{ITEMS:,} no-op items, live display on a terminal",
            backend,
            WINDOW,
            "items/s",
            shown,
            hidden,
            ratio_at_least(0.9),
            baseline="progress=False",
        )
