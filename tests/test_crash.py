"""Killing a real run (SIGKILL, Ctrl-C) loses nothing that was flushed and corrupts nothing.

A child process runs an evaluation and, at a seeded point, kills itself with SIGKILL:
after its K-th item, or in the middle of writing a batch. Runs repeat in the same
experiment; the last one completes. The store must open, hold exactly one effective
record per item, and give the summary of a run that was never interrupted.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import doteval
from doteval.evaluators import exact_match
from doteval.storage import COMPLETED, INTERRUPTED, open_storage

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

ITEMS = 240
CHILD = r"""
import os, signal, sys
import anyio
import doteval
from doteval._private.persist import hook as persist
from doteval.evaluators import exact_match

url, experiment, mode, point, backend = sys.argv[1:6]
point = int(point)
persist.BATCH_SIZE = 16
persist.FLUSH_INTERVAL = 0.01
done = 0

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if mode == "flush":  # die halfway through the point-th batch write
    from doteval._private.storage.backends import jsonl
    from doteval._private.storage.backends import sqlite
    flushes = 0
    if url.startswith("sqlite"):
        original = sqlite._Transaction.__exit__
        def exit_(self, kind, *rest):
            global flushes
            flushes += 1
            if flushes == point:
                die()  # inserts done, COMMIT never happens
            return original(self, kind, *rest)
        sqlite._Transaction.__exit__ = exit_
    else:
        class Torn:
            def __init__(self, handle):
                self.handle = handle
            def write(self, data):
                global flushes
                flushes += 1
                if flushes == point:
                    self.handle.write(data[: len(data) // 2])
                    self.handle.flush()
                    die()
                return self.handle.write(data)
            def __getattr__(self, name):
                return getattr(self.handle, name)
        original_writer = jsonl.JsonlStorage.writer
        def writer(self, *args):
            made = original_writer(self, *args)
            made.handle = Torn(made.handle)
            return made
        jsonl.JsonlStorage.writer = writer

@doteval.foreach("n", range(ITEMS))
async def eval_crashy(n):
    global done
    await anyio.sleep(0.0005 * (n % 5))
    if n % 11 == 5:
        raise ValueError("always fails")
    done += 1
    if mode == "item" and done == point:
        die()
    if mode == "slow":
        await anyio.sleep(0.05)
    return exact_match(n % 3, 0)

if mode == "slow":  # report each record the run's consumer hands to the store
    original_record = persist.PersistHook.record
    def record(self, record):
        original_record(self, record)
        print("done", record.item_id, flush=True)
    persist.PersistHook.record = record

doteval.run(eval_crashy, backend=backend, experiment=experiment, storage=url,
            max_concurrency=8, retries=0, progress=False)
print("finished", flush=True)
""".replace("ITEMS", str(ITEMS))


def child(tmp_path: Path, url: str, mode: str, point: int, backend: str = "asyncio") -> list[str]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return [sys.executable, str(script), url, "crash", mode, str(point), backend]


def run_child(tmp_path: Path, url: str, mode: str, point: int) -> int:
    completed = subprocess.run(
        child(tmp_path, url, mode, point), capture_output=True, text=True, timeout=60, check=False
    )
    if completed.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(completed.stderr)
    return completed.returncode


def reference_summary() -> dict[str, dict[str, float]]:
    @doteval.foreach("n", range(ITEMS))
    async def eval_reference(n: int) -> doteval.Score:
        if n % 11 == 5:
            raise ValueError("always fails")
        return exact_match(n % 3, 0)

    result = doteval.run(eval_reference, storage="memory://crash-reference", retries=0)
    return {name: dict(metrics) for name, metrics in result.summary.items()}


def check_store(url: str) -> None:
    storage = open_storage(url)
    [experiment] = storage.experiments()
    [info] = experiment.evaluations
    records = list(storage.records("crash", info.name))
    assert [record.item_id for record in records] == list(range(ITEMS))
    errors = [record.item_id for record in records if record.error is not None]
    assert errors == [n for n in range(ITEMS) if n % 11 == 5]


@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_sigkill_at_seeded_points_then_resume(tmp_path: Path, kind: str) -> None:
    url = f"{kind}://{tmp_path / ('crash.db' if kind == 'sqlite' else 'runs')}"
    seeded = random.Random(f"doteval-crash-{kind}")
    kills = [("item", seeded.randrange(5, 60)) for _ in range(5)]
    kills.insert(2, ("flush", 2))  # mid-batch: inserts without COMMIT, or half a line
    for mode, point in kills:
        assert run_child(tmp_path, url, mode, point) == -signal.SIGKILL
        [info] = open_storage(url).experiments()[0].evaluations
        assert info.status == INTERRUPTED  # the dead holder's lease is stale at once
    assert run_child(tmp_path, url, "none", 0) == 0
    check_store(url)
    [info] = open_storage(url).experiments()[0].evaluations
    assert info.status == COMPLETED
    loaded = doteval.load("crash", storage=url)
    assert {name: dict(metrics) for name, metrics in loaded.summary.items()} == (
        reference_summary()
    )
    assert loaded.counts.total == ITEMS
    if kind == "jsonl":  # the torn line was cut before appending: every line parses
        [path] = (tmp_path / "runs" / "crash").glob("*.jsonl")
        for line in path.read_text().splitlines():
            json.loads(line)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_ctrl_c_stops_promptly_flushes_and_marks_interrupted(tmp_path: Path, backend: str) -> None:
    url = f"sqlite://{tmp_path / 'interrupt.db'}"
    process = subprocess.Popen(
        child(tmp_path, url, "slow", 0, backend),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    finished: list[int] = []
    for line in process.stdout:
        finished.append(int(line.split()[1]))
        if len(finished) == 20:
            break
    os.kill(process.pid, signal.SIGINT)
    sent = time.monotonic()
    _, stderr = process.communicate(timeout=30)
    assert time.monotonic() - sent < 5
    assert process.returncode != 0, stderr
    assert "KeyboardInterrupt" in stderr or process.returncode == -signal.SIGINT
    storage = open_storage(url)
    [info] = storage.experiments()[0].evaluations
    assert info.status == INTERRUPTED, stderr
    stored = [record.item_id for record in storage.records("crash", info.name)]
    assert set(finished) <= set(stored)  # everything that finished was flushed
    assert len(stored) < ITEMS


def test_several_processes_write_one_sqlite_store_at_once(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'shared.db'}"
    script = tmp_path / "writer.py"
    script.write_text(
        "import sys, doteval\n"
        "from doteval.evaluators import exact_match\n"
        "@doteval.foreach('n', range(400))\n"
        "async def evaluate(n):\n"
        "    return exact_match(n, n)\n"
        "evaluate.fn.__qualname__ = 'eval_' + sys.argv[2]\n"
        "result = doteval.run(evaluate, experiment='shared', storage=sys.argv[1], progress=False)\n"
        "assert result.counts.total == 400, result.counts\n"
    )
    processes = [
        subprocess.Popen([sys.executable, str(script), url, str(index)], stderr=subprocess.PIPE)
        for index in range(4)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr.decode()
    [experiment] = doteval.experiments(storage=url)
    assert len(experiment.evaluations) == 4
    assert all(info.status == COMPLETED for info in experiment.evaluations)
    assert all(info.counts and info.counts.total == 400 for info in experiment.evaluations)


def test_the_next_run_takes_over_from_a_killed_one_at_once(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'takeover.db'}"
    assert run_child(tmp_path, url, "item", 100) == -signal.SIGKILL

    @doteval.foreach("n", range(ITEMS))
    async def eval_crashy(n: int) -> doteval.Score:
        if n % 11 == 5:
            raise ValueError("always fails")
        return exact_match(n % 3, 0)

    eval_crashy.fn.__module__ = "child"  # the identity the child's evaluation had
    eval_crashy.fn.__qualname__ = "eval_crashy"
    started = time.monotonic()
    result = doteval.run(eval_crashy, experiment="crash", storage=url, retries=0)
    assert time.monotonic() - started < 5
    assert result.counts.total == ITEMS
    assert {name: dict(metrics) for name, metrics in result.summary.items()} == (
        reference_summary()
    )
    check_store(url)
