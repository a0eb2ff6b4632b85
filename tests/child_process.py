"""A Python script run as a child process, for tests that stop, interrupt or kill it.

The child is always reaped: a stopped one is continued and killed when the test ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty, SimpleQueue


class Child:
    """A running script whose stdout lines are read as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._lines: SimpleQueue[str | None] = SimpleQueue()
        self.seen: list[str] = []
        assert process.stdout is not None
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    @property
    def pid(self) -> int:
        return self.process.pid

    def line(self, starting: str, timeout: float = 20) -> str:
        """The next stdout line that starts with ``starting``; fails after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except Empty:
                raise AssertionError(
                    f"no line starting {starting!r} within {timeout} s; seen {self.seen}"
                ) from None
            if line is None:
                raise AssertionError(
                    f"the child ended (status {self.process.wait()}) before printing "
                    f"{starting!r}; seen {self.seen}; stderr:\n{self.stderr()}"
                )
            self.seen.append(line)
            if line.startswith(starting):
                return line

    def rest(self, timeout: float = 20) -> list[str]:
        """The stdout lines still to come, until the child closes its output."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except Empty:
                raise AssertionError(f"the child's output went on after {timeout} s") from None
            if line is None:
                return self.seen
            self.seen.append(line)

    def signal(self, signum: int) -> None:
        os.kill(self.process.pid, signum)

    def wait(self, timeout: float) -> int:
        """The exit status; fails if the child is still running after ``timeout`` s."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the child was still running {timeout} s later; seen {self.seen}"
            ) from None

    def stderr(self) -> str:
        assert self.process.stderr is not None
        if self.process.poll() is None:
            return "(still running)"
        return self.process.stderr.read()


@contextmanager
def child(tmp_path: Path, source: str, *args: str) -> Iterator[Child]:
    """Run ``source`` (dedented) as a script with ``args``; reaped when the block ends."""
    script = tmp_path / f"child_{time.monotonic_ns()}.py"
    script.write_text(textwrap.dedent(source), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        yield Child(process)
    finally:
        if process.poll() is None:
            for signum in (signal.SIGCONT, signal.SIGKILL):
                try:
                    os.kill(process.pid, signum)
                except ProcessLookupError:
                    break
        process.wait(10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
