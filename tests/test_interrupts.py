"""Ctrl-C in a script: one message that says what was kept and how to resume, a clean
``KeyboardInterrupt`` (the user's frames, at most one of doteval's, nothing chained),
exit status 130, and a second Ctrl-C that stops at once without losing what was stored.

Each test runs a real script in a child process and sends it a real SIGINT."""

from __future__ import annotations

import re
import signal
import sys
import time
from pathlib import Path

import pytest

from child_process import Child, child
from doteval.storage import INTERRUPTED, open_storage

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

SCRIPT = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
import anyio
import doteval
from doteval.evaluators import exact_match

backend, how = sys.argv[1:3]

@doteval.foreach("q,a", [(str(i), str(i)) for i in range(300)])
async def eval_slow(q, a):
    if int(q) == 20:
        print("running", flush=True)
    await anyio.sleep(0.02)
    return exact_match(q, a)

options = dict(max_concurrency=5, storage="sqlite://store.db", experiment="ctrl-c")
if how == "run":
    doteval.run(eval_slow, backend, **options)
elif how == "await":
    async def main():
        await eval_slow(**options)
    anyio.run(main, backend=backend)
elif how == "slow-close":  # the store takes a while to finish the evaluation
    import time
    from doteval.storage import open_storage

    inner = open_storage("sqlite://store.db").backend

    class SlowWriter:
        def __init__(self, writer):
            self.writer = writer
            self.keeps_seed = writer.keeps_seed

        def __getattr__(self, name):
            return getattr(self.writer, name)

        def finish(self, *args, **kwargs):
            print("finishing", flush=True)
            time.sleep(3)
            return self.writer.finish(*args, **kwargs)

    class SlowStore:
        def __getattr__(self, name):
            return getattr(inner, name)

        def writer(self, *args):
            return SlowWriter(inner.writer(*args))

    doteval.run(eval_slow, backend, **{**options, "storage": SlowStore()})
else:  # code may handle the interrupt
    try:
        doteval.run(eval_slow, backend, **options)
    except KeyboardInterrupt:
        print("caught it", flush=True)
"""

BACKENDS = ["asyncio", "trio"]


def interrupted(process: Child) -> tuple[int, str]:
    process.line("running")
    process.signal(signal.SIGINT)
    status = process.wait(20)
    return status, process.stderr()


def stored(tmp_path: Path) -> tuple[str, int]:
    store = open_storage(f"sqlite://{tmp_path / 'store.db'}")
    [info] = store.experiment("ctrl-c").evaluations
    return info.status, store.count("ctrl-c", info.name)


def doteval_frames(traceback: str) -> list[str]:
    return re.findall(r'File "[^"]*/doteval/[^"]*"', traceback)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_says_what_was_stored_and_how_to_resume(tmp_path: Path, backend: str) -> None:
    with child(tmp_path, SCRIPT, backend, "run") as process:
        status, stderr = interrupted(process)
    assert status == -signal.SIGINT  # a shell shows 130
    found = re.search(r"interrupted: eval_slow (\d+)/300 items stored; resume with (.*)", stderr)
    assert found, stderr
    assert found.group(2) == 'experiment="ctrl-c"'
    assert stored(tmp_path) == (INTERRUPTED, int(found.group(1)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_traceback_ends_at_the_users_call(tmp_path: Path, backend: str) -> None:
    with child(tmp_path, SCRIPT, backend, "run") as process:
        _, stderr = interrupted(process)
    traceback = stderr[stderr.index("Traceback") :]
    assert traceback.count("Traceback") == 1, traceback  # nothing chained
    assert "During handling" not in traceback
    assert "WouldBlock" not in traceback
    assert "CancelledError" not in traceback
    assert len(doteval_frames(traceback)) == 1, traceback
    assert "anyio" not in traceback
    assert traceback.rstrip().endswith("KeyboardInterrupt")
    assert "doteval.run(eval_slow" in traceback  # the user's own line


@pytest.mark.parametrize("backend", BACKENDS)
def test_awaited_in_the_users_loop_doteval_adds_one_frame(tmp_path: Path, backend: str) -> None:
    with child(tmp_path, SCRIPT, backend, "await") as process:
        status, stderr = interrupted(process)
    assert status == -signal.SIGINT
    assert 'resume with experiment="ctrl-c"' in stderr
    assert len(doteval_frames(stderr)) <= 1, stderr
    assert "WouldBlock" not in stderr
    assert stored(tmp_path)[0] == INTERRUPTED


@pytest.mark.parametrize("backend", BACKENDS)
def test_code_may_handle_the_interrupt(tmp_path: Path, backend: str) -> None:
    with child(tmp_path, SCRIPT, backend, "catch") as process:
        process.line("running")
        process.signal(signal.SIGINT)
        process.line("caught it")
        assert process.wait(20) == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_second_ctrl_c_stops_at_once_and_keeps_what_was_stored(
    tmp_path: Path, backend: str
) -> None:
    with child(tmp_path, SCRIPT, backend, "slow-close") as process:
        process.line("running")
        process.signal(signal.SIGINT)
        process.line("finishing")  # the first Ctrl-C's shutdown is under way
        process.signal(signal.SIGINT)
        pressed = time.monotonic()
        status = process.wait(20)
        waited = time.monotonic() - pressed
        stderr = process.stderr()
    assert status == 130, stderr
    assert waited < 2  # not after the store's 3 s
    assert "interrupted again: stopping now; what was stored is kept" in stderr
    assert "Exception in thread" not in stderr  # no traceback from a doteval thread
    assert "unhandled exception" not in stderr
    store = open_storage(f"sqlite://{tmp_path / 'store.db'}")
    [info] = store.experiment("ctrl-c").evaluations
    records = list(store.records("ctrl-c", info.name))
    assert records  # what was stored before is kept
    assert info.counts is not None
    assert info.counts.total == len(records)  # and the totals never claim more


PYTEST_RUNNER = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
import pytest
sys.exit(pytest.main(["eval_ctrl_c.py", "--experiment", "under-pytest", "-p", "no:randomly",
                      "-p", "no:cacheprovider", "-s", "--doteval-backend", sys.argv[1],
                      "--max-concurrency", "5"]))
"""

PYTEST_EVAL = """
import anyio, doteval
from doteval.evaluators import exact_match

@doteval.foreach("n", range(300))
async def eval_ctrl_c(n):
    if n == 20:
        print("\\nrunning", flush=True)
    await anyio.sleep(0.02)
    return exact_match(n, n)
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_under_pytest_ctrl_c_says_how_to_resume_with_the_option(
    tmp_path: Path, backend: str
) -> None:
    (tmp_path / "eval_ctrl_c.py").write_text(PYTEST_EVAL)
    with child(tmp_path, PYTEST_RUNNER, backend) as process:
        process.line("running")
        process.signal(signal.SIGINT)
        out = "\n".join(process.rest())
        process.wait(30)
    found = re.search(r"interrupted: \S+ (\d+)/300 items stored; resume with (.*)", out)
    assert found, out
    assert found.group(2).strip() == "--experiment under-pytest"
    store = open_storage("sqlite://" + str(tmp_path / ".doteval" / "doteval.db"))
    [info] = store.experiment("under-pytest").evaluations
    assert info.status == INTERRUPTED
    assert store.count("under-pytest", info.name) == int(found.group(1))
