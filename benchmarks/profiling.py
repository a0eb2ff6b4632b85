"""``python -m benchmarks --profile``: where the no-op throughput path spends its time.

Records a py-spy profile of one run of 100,000 no-op items at window 100 (the
throughput benchmark's case, progress off) on ``memory://`` and on SQLite, on each
backend, in a fresh interpreter each, and prints the ten functions with the most
samples of their own (self time, in every thread that holds the GIL, imports left
out). The profiles are py-spy's collapsed stacks (``--format raw``), one file per
case, which flamegraph.pl and speedscope read.

``python -m benchmarks.profiling STORE BACKEND`` is the profiled process itself.
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import anyio

import doteval
from benchmarks.measure import ROOT, check
from benchmarks.throughput import noop

ITEMS = 100_000
WINDOW = 100
STORES = ("memory", "sqlite")
RATE = 250
"""Samples a second: py-spy's default of 100 gives too few for a run of a few seconds."""
TOP = 10


def store_url(store: str, scratch: Path) -> str:
    return "memory://profile" if store == "memory" else f"sqlite://{scratch / 'profile.db'}"


def run_noop(storage: str, backend: str) -> None:
    """The profiled run: the throughput benchmark's no-op items, SQLite otherwise default."""
    evaluation = doteval.foreach("a", range(ITEMS))(noop)
    call = functools.partial(evaluation, max_concurrency=WINDOW, progress=False, storage=storage)
    result = anyio.run(call, backend=backend)
    check(result.counts.total == ITEMS, f"the profiled run ran {result.counts}")


IMPORTING = "_find_and_load (<frozen importlib._bootstrap>"
"""A frame of every stack sampled while a module was being imported."""


def self_time(lines: Iterable[str]) -> list[tuple[str, int]]:
    """Samples per innermost frame (a function and its file), most first, from py-spy's
    collapsed stacks (``frame;frame;...;frame COUNT`` a line), leaving out the samples
    taken while importing: the interpreter's start-up is the startup benchmark's."""
    counts: collections.Counter[str] = collections.Counter()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if stack and IMPORTING not in stack:
            counts[stack.rsplit(";", 1)[-1].strip()] += int(count)
    return counts.most_common()


def py_spy() -> str:
    """The py-spy command next to this interpreter, or on ``PATH``."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit(
            "--profile needs py-spy, which is not installed: pip install -e '.[bench]' "
            "(or pip install py-spy)"
        )
    return found


def record(store: str, backend: str, output: Path) -> None:
    """Profile one run into ``output``: py-spy starts the interpreter it samples."""
    with tempfile.TemporaryDirectory(prefix="doteval-profile-") as scratch:
        path = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        done = subprocess.run(
            [
                py_spy(),
                "record",
                "--function",  # one row per function, not per line
                "--gil",  # threads holding the GIL: no thread waiting on a lock counts
                "--rate",
                str(RATE),
                "--format",
                "raw",
                "--output",
                str(output),
                "--",
                sys.executable,
                "-m",
                "benchmarks.profiling",
                store_url(store, Path(scratch)),
                backend,
            ],
            cwd=scratch,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(path)},
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0 or not output.exists():
        raise SystemExit(f"py-spy exited with {done.returncode}:\n{done.stdout}{done.stderr}")


def report(output: Path) -> str:
    with output.open(encoding="utf-8") as lines:
        ranked = self_time(lines)
    total = sum(count for _, count in ranked)
    check(total > 0, f"{output} holds no samples outside imports")
    rows = [f"  {count * 100 / total:5.1f} %  {frame}" for frame, count in ranked[:TOP]]
    heading = f"{output} ({total:,} samples after start-up), top {TOP} by self time:"
    return "\n".join([heading, *rows])


def profile(directory: Path, backends: Iterable[str]) -> None:
    """Record and summarise every case into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for backend in backends:
        for store in STORES:
            output = directory / f"noop-{store}-{backend}.txt"
            print(f"profiling {ITEMS:,} no-op items at window {WINDOW}, {store}, {backend} ...")
            record(store, backend, output)
            print(report(output), end="\n\n", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profiling")
    parser.add_argument("storage")
    parser.add_argument("backend")
    args = parser.parse_args()
    run_noop(args.storage, args.backend)


if __name__ == "__main__":
    main()
