"""A process stopped (``kill -STOP``, Ctrl-Z) while it holds a store's lock blocks nobody
for long: every wait for a lock is bounded, then fails naming the holder and the fix; a
killed holder's lock is free at once."""

from __future__ import annotations

import re
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import doteval
import doteval.storage
from child_process import Child, child
from doteval import Counts, EvaluationBusyError, Record, Score
from doteval._private.cli.main import main
from doteval._private.storage.backends import jsonl, sqlite
from doteval.storage import Lease, open_storage

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and flock")

BOUND = 0.5
"""The lock wait the tests set; a wait must end after it, and well within 10 times it."""


@doteval.foreach("n", range(3))
def eval_locks(n):
    return Score("ok", True)


def within(seconds: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Run ``fn`` in a thread: its value or error and how long it took; fails if it is
    still running after ``seconds`` (the thread ends when the test's holder is killed)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        begin = time.monotonic()
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:
            outcome["error"] = exc
        outcome["elapsed"] = time.monotonic() - begin

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"{fn.__name__} was still waiting after {seconds} s")
    return outcome


def run(url: str, experiment: str) -> doteval.EvaluationResult:
    return doteval.run(eval_locks, storage=url, experiment=experiment, progress=False)


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def assert_names_the_stopped_holder(error: BaseException, holder: Child) -> None:
    assert isinstance(error, EvaluationBusyError), repr(error)
    message = str(error)
    assert f"process {holder.pid} on " in message
    if sys.platform == "linux":  # /proc tells a stopped process apart
        assert "stopped" in message
    assert f"kill -CONT {holder.pid}" in message


# --- jsonl ----------------------------------------------------------------------

JSONL_HOLDER = """
import sys, time
from doteval._private.storage.backends.jsonl import _locked

with _locked(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def jsonl_url(tmp_path: Path) -> str:
    url = f"jsonl://{tmp_path / 'runs'}"
    run(url, "held")
    run(url, "free")
    return url


@pytest.fixture
def stopped_jsonl_holder(
    tmp_path: Path, jsonl_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Child]:
    """A process that holds the lock of experiment ``held`` and is stopped."""
    monkeypatch.setattr(jsonl, "LOCK_TIMEOUT", BOUND, raising=False)
    with child(tmp_path, JSONL_HOLDER, str(tmp_path / "runs" / "held")) as holder:
        holder.line("locked")
        holder.signal(signal.SIGSTOP)
        yield holder


def test_a_stopped_jsonl_lock_holder_fails_a_run_fast_naming_it(
    jsonl_url: str, stopped_jsonl_holder: Child
) -> None:
    outcome = within(10, run, jsonl_url, "held")
    assert_names_the_stopped_holder(outcome["error"], stopped_jsonl_holder)
    assert BOUND <= outcome["elapsed"] < 10 * BOUND


def test_a_stopped_jsonl_lock_holder_fails_delete_and_rename_fast(
    jsonl_url: str, stopped_jsonl_holder: Child
) -> None:
    for command in (["delete", "held", "--yes"], ["rename", "held", "renamed"]):
        outcome = within(10, cli, *command, "--storage", jsonl_url)
        code, output = outcome["value"]
        assert code == 1, output
        assert f"kill -CONT {stopped_jsonl_holder.pid}" in output
        assert outcome["elapsed"] < 10 * BOUND
    assert [info.name for info in open_storage(jsonl_url).experiments()] == ["free", "held"]


def test_a_stopped_jsonl_lock_holder_does_not_hold_up_other_experiments(
    jsonl_url: str, stopped_jsonl_holder: Child
) -> None:
    outcome = within(10, run, jsonl_url, "free")
    assert outcome["value"].counts.errors == 0


def test_a_killed_jsonl_lock_holder_leaves_the_lock_free(
    tmp_path: Path, jsonl_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonl, "LOCK_TIMEOUT", 60.0, raising=False)
    with child(tmp_path, JSONL_HOLDER, str(tmp_path / "runs" / "held")) as holder:
        holder.line("locked")
        holder.signal(signal.SIGKILL)
        holder.wait(10)
        outcome = within(10, run, jsonl_url, "held")
    assert outcome["value"].counts.errors == 0
    assert outcome["elapsed"] < 5  # flock locks die with their process: no 60 s wait


# --- sqlite ---------------------------------------------------------------------

SQLITE_HOLDER = """
import sqlite3, sys, time
import doteval
from doteval import Score

path = sys.argv[1]

@doteval.foreach("n", range(1))
def eval_holder(n):
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")  # the write lock of the whole file
    print("locked", flush=True)
    time.sleep(120)
    return Score("ok", True)

doteval.run(eval_holder, storage=f"sqlite://{path}", experiment="held", progress=False)
"""


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    path = tmp_path / "store" / "doteval.db"
    run(f"sqlite://{path}", "held")
    run(f"sqlite://{path}", "free")
    return path


@pytest.fixture
def stopped_sqlite_holder(
    tmp_path: Path, sqlite_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Child]:
    """A process running an evaluation of the store, stopped in a write transaction."""
    monkeypatch.setattr(sqlite, "BUSY_TIMEOUT", BOUND)
    with child(tmp_path, SQLITE_HOLDER, str(sqlite_path)) as holder:
        holder.line("locked")
        holder.signal(signal.SIGSTOP)
        yield holder


def test_a_stopped_sqlite_writer_fails_a_run_fast_naming_it(
    sqlite_path: Path, stopped_sqlite_holder: Child
) -> None:
    # Another experiment: the write lock is the whole file's.
    outcome = within(10, run, f"sqlite://{sqlite_path}", "free")
    error = outcome["error"]
    assert_names_the_stopped_holder(error, stopped_sqlite_holder)
    assert str(sqlite_path) in str(error)
    assert re.search(r"runs child_\d+\.eval_holder of experiment 'held'", str(error))
    assert BOUND <= outcome["elapsed"] < 10 * BOUND


def test_a_stopped_sqlite_writer_fails_delete_and_rename_fast(
    sqlite_path: Path, stopped_sqlite_holder: Child
) -> None:
    url = f"sqlite://{sqlite_path}"
    for command in (["delete", "free", "--yes"], ["rename", "free", "renamed"]):
        outcome = within(10, cli, *command, "--storage", url)
        code, output = outcome["value"]
        assert code == 1, output
        assert f"kill -CONT {stopped_sqlite_holder.pid}" in output.replace("\n", " ")
        assert outcome["elapsed"] < 10 * BOUND
    # Reading is never blocked: WAL lets readers read while a writer holds the lock.
    listed = within(10, open_storage(url).experiments)["value"]
    assert sorted(info.name for info in listed) == ["free", "held"]


def test_a_write_lock_held_by_another_program_is_reported_as_such(
    sqlite_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "BUSY_TIMEOUT", BOUND)
    shell = sqlite3.connect(sqlite_path, isolation_level=None)
    shell.execute("BEGIN IMMEDIATE")
    try:
        outcome = within(10, run, f"sqlite://{sqlite_path}", "free")
    finally:
        shell.execute("ROLLBACK")
        shell.close()
    error = outcome["error"]
    assert isinstance(error, EvaluationBusyError), repr(error)
    assert "no other process runs an evaluation of it" in str(error)
    assert run(f"sqlite://{sqlite_path}", "free").counts.errors == 0  # free again


def test_the_sqlite_write_lock_is_held_only_inside_each_write(sqlite_path: Path) -> None:
    store = open_storage(f"sqlite://{sqlite_path}")
    lease = Lease.mine()
    store.begin("locks", "tests.eval_locks", lease, {})
    writer = store.writer("locks", "tests.eval_locks", lease)
    probe = sqlite3.connect(sqlite_path, timeout=0, isolation_level=None)

    def lock_is_free() -> bool:
        try:
            probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return False
        probe.execute("ROLLBACK")
        return True

    batch = [(Record(n, {"n": n}, (Score("ok", True),)), n) for n in range(3)]
    try:
        assert lock_is_free()
        writer.write(batch, Counts(3, 0, 3, 0), None)
        assert lock_is_free()
        writer.heartbeat()
        assert lock_is_free()
        reading = store.records("locks", "tests.eval_locks")
        next(iter(reading))  # a read under way
        assert lock_is_free()
        store.release("locks", "tests.eval_locks", lease, "interrupted")
        with pytest.raises(doteval.storage.StorageError, match="released"):
            writer.write(batch, Counts(3, 0, 3, 0), None)  # refused inside its transaction
        assert lock_is_free()
    finally:
        writer.close()
        probe.close()
