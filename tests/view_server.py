"""``doteval view`` run for real in a subprocess, for the CLI and browser tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

RUN = "from doteval._private.cli.main import main; main()"
ADDRESS = re.compile(r"at (http://\S+/) \(Ctrl-C to stop\)")


class Server:
    """``doteval view`` in a subprocess; its address read from the line it prints."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", RUN, "view", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        self.stderr = ""
        lines: list[str] = []
        found = threading.Event()

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                lines.append(line)
                if ADDRESS.search(line):
                    found.set()
            found.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        found.wait(60)
        self.lines = lines
        match = next((ADDRESS.search(line) for line in lines if ADDRESS.search(line)), None)
        if match is None:
            self.stop()
            raise AssertionError(f"no address printed: {lines!r} {self.stderr!r}")
        self.address = match[1]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        self.reader.join(10)
        assert self.process.stderr is not None
        self.stderr = self.process.stderr.read()
        return code
