"""Timing helpers shared by the benchmarks: interleaved medians, one event loop per run."""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import anyio

from doteval.storage import open_storage

ROOT = Path(__file__).resolve().parent.parent

STORE = "memory://benchmarks"
RUN_OPTIONS: dict[str, Any] = {"progress": False, "storage": STORE}
"""Options of every doteval run measured here, unless a benchmark says otherwise: no
progress display and no disk I/O, so the numbers are the engine's (persistence is
measured by its own benchmarks)."""


def forget_runs() -> None:
    """Drop the runs kept in ``STORE``: ``memory://`` keeps every run of the process, and
    millions of kept records would slow each later run's garbage collections."""
    store = open_storage(STORE)
    for experiment in store.experiments():
        store.delete(experiment.name)


def on_backend(backend: str, fn: Callable[..., Awaitable[float]], *args: Any) -> float:
    """Run ``fn`` in a fresh event loop, starting from an empty store and a collected heap."""
    forget_runs()
    gc.collect()
    return anyio.run(fn, *args, backend=backend)


def interleaved(
    doteval: Callable[[], float], bare: Callable[[], float], repeats: int
) -> tuple[float, float]:
    """Medians of alternating runs (doteval, bare, doteval, ...): drift hits both sides."""
    medians = interleaved_sides({"doteval": doteval, "bare": bare}, repeats)
    return medians["doteval"], medians["bare"]


def interleaved_sides(sides: Mapping[str, Callable[[], float]], repeats: int) -> dict[str, float]:
    """Medians of rounds that run every side once, in turn: drift hits all of them."""
    values: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeats):
        for name, side in sides.items():
            values[name].append(side())
    return {name: statistics.median(found) for name, found in values.items()}


def in_subprocess(module: str, *args: str) -> dict[str, Any]:
    """Run ``python -m module args`` in a fresh interpreter; it prints one JSON object."""
    completed = subprocess.run(
        [sys.executable, "-m", module, *args],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *_python_path()])},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"python -m {module} {' '.join(args)} exited with {completed.returncode}:\n"
            f"{completed.stderr}"
        )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


Side = Callable[[int, Path], Awaitable[None]]
"""One side of a memory benchmark: run this many items, with a scratch directory."""


def peak_rss_mb() -> float:
    """This process's peak RSS since it started its program.

    On Linux ``ru_maxrss`` carries over the peak of the parent that forked us (exec
    keeps it), which would hide the growth of a small child behind a big parent; the
    ``VmHWM`` line of /proc/self/status belongs to this program alone.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # KiB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def rss_growth(side: Side, backend: str, items: int, warm_up: int) -> float:
    """How far a run of ``items`` raises this process's peak RSS, in MB, after a run of
    ``warm_up`` items has done the imports and first-time allocations."""
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        anyio.run(side, warm_up, Path(first), backend=backend)
        gc.collect()
        before = peak_rss_mb()
        anyio.run(side, items, Path(second), backend=backend)
        return peak_rss_mb() - before


def rss_growth_in_subprocess(module: str, side: str, backend: str, items: int) -> float:
    """:func:`rss_growth` in a fresh interpreter, so no other benchmark's memory counts;
    ``module`` ends with ``rss_growth_main``."""
    growth: float = in_subprocess(module, side, backend, str(items))["growth_mb"]
    return growth


def rss_growth_main(sides: Mapping[str, Side], warm_up: int) -> None:
    """The command line of a memory benchmark module: ``SIDE BACKEND ITEMS``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("side", choices=sorted(sides))
    parser.add_argument("backend")
    parser.add_argument("items", type=int)
    args = parser.parse_args()
    growth = rss_growth(sides[args.side], args.backend, args.items, warm_up)
    print(json.dumps({"growth_mb": growth}))


def _python_path() -> list[str]:
    existing = os.environ.get("PYTHONPATH")
    return existing.split(os.pathsep) if existing else []


class BenchmarkError(RuntimeError):
    """A run did not do what the benchmark measures, so its number would be meaningless."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise BenchmarkError(message)
