"""Start-up: a whole process that runs one item, and ``import doteval`` alone.

A script that runs a 1-item evaluation with default settings (the SQLite store in a
fresh working directory, the progress display's default) against two bare anyio
scripts: one that does the same work (runs the function, stores its result in a new
SQLite file under ``.doteval/``, prints it), as the target is worded, and the stricter
one that only runs the function and prints its result. The whole process, interpreter
start-up included, at most 1.5 times as long as each. And ``import doteval`` at most
60 ms above ``import anyio``. Both are medians of interleaved fresh processes; every
process uses a bytecode cache (in a temporary directory, so nothing lands in the
checkout), as an installed package would.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from benchmarks.measure import ROOT, check
from benchmarks.registry import Row, Settings, below, benchmark, ratio_at_most

ONE_ITEM = """\
import sys
import doteval
from doteval.evaluators import exact_match

@doteval.foreach("a", [1])
async def eval_one(a):
    return exact_match(a, a)

print(doteval.run(eval_one, backend=sys.argv[1]).summary["exact_match"]["accuracy"])
"""

BARE_ONE_ITEM = """\
import sys
import anyio

async def one(a):
    return a == a

print(float(anyio.run(one, 1, backend=sys.argv[1])))
"""

SAME_WORK_ONE_ITEM = """\
import json
import sqlite3
import sys
from pathlib import Path

import anyio

async def one(a):
    return a == a

async def main():
    result = await one(1)
    Path(".doteval").mkdir()
    with sqlite3.connect(".doteval/doteval.db") as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE results (item INTEGER PRIMARY KEY, record TEXT)")
        db.execute("INSERT INTO results VALUES (0, ?)", (json.dumps({"a": 1, "ok": result}),))
    return float(result)

print(anyio.run(main, backend=sys.argv[1]))
"""
"""The bare script that does the same work: runs the function, stores its result in a
new SQLite file in WAL mode (doteval's journal) and prints it."""

ROUNDS_PER_REPEAT = 4
"""Fresh processes per side and repeat: one process is a few hundred milliseconds, and
start-up times scatter more than a long run's throughput does."""


def environment(cache: str) -> dict[str, str]:
    """The benchmarks' own environment, with doteval importable and bytecode cached."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    path = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(path)
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def seconds(code: str, args: Sequence[str], env: Mapping[str, str], expect: str) -> float:
    """Wall-clock time of ``python -c code args`` in a fresh working directory."""
    with tempfile.TemporaryDirectory(prefix="doteval-startup-") as cwd:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if code in (ONE_ITEM, SAME_WORK_ONE_ITEM):
            check(Path(cwd, ".doteval", "doteval.db").is_file(), "the run stored nothing")
    check(
        done.returncode == 0 and done.stdout.strip() == expect,
        f"python -c {code!r} exited with {done.returncode}: {done.stdout}{done.stderr}",
    )
    return elapsed


def medians(
    sides: Mapping[str, tuple[str, Sequence[str], str]], env: Mapping[str, str], rounds: int
) -> dict[str, float]:
    """The median time of each side over ``rounds`` interleaved rounds, after one
    process of each has filled the bytecode cache."""
    for code, args, expect in sides.values():
        seconds(code, args, env, expect)
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, (code, args, expect) in sides.items():
            times[name].append(seconds(code, args, env, expect))
    return {name: statistics.median(values) for name, values in times.items()}


@benchmark("startup", order=5)
def startup(settings: Settings) -> Iterator[Row]:
    rounds = ROUNDS_PER_REPEAT * settings.repeats
    with tempfile.TemporaryDirectory(prefix="doteval-pycache-") as cache:
        env = environment(cache)
        found = medians(
            {"anyio": ("import anyio", (), ""), "doteval": ("import doteval", (), "")},
            env,
            rounds,
        )
        yield Row(
            "startup",
            "import doteval, above import anyio",
            "-",
            0,
            "ms",
            (found["doteval"] - found["anyio"]) * 1000,
            found["anyio"] * 1000,
            below(60),
            baseline="import anyio",
        )
        for backend in settings.backends:
            found = medians(
                {
                    "doteval": (ONE_ITEM, (backend,), "1.0"),
                    "same work": (SAME_WORK_ONE_ITEM, (backend,), "1.0"),
                    "bare": (BARE_ONE_ITEM, (backend,), "1.0"),
                },
                env,
                rounds,
            )
            for baseline, label in (
                ("same work", "bare anyio + sqlite3, same work"),
                ("bare", "bare anyio script"),
            ):
                yield Row(
                    "startup",
                    "a whole process: 1-item evaluation, SQLite, progress default",
                    backend,
                    1,
                    "ms",
                    found["doteval"] * 1000,
                    found[baseline] * 1000,
                    ratio_at_most(1.5),
                    baseline=label,
                )
