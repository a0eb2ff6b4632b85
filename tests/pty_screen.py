"""Run a program in a real pseudo-terminal and read back the screen it leaves.

The screen model knows what the progress display and pytest send: text, carriage
return, newline, cursor up (CSI A), cursor to column (CSI G), erase in line (CSI K),
with a terminal's deferred wrap at the right margin; colours and cursor visibility
are ignored.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Sequence
from pathlib import Path

_CSI = re.compile(r"\x1b\[([?0-9;]*)([@-~])")


def run_in_pty(
    argv: Sequence[str], cwd: Path, env: dict[str, str], columns: int = 100, timeout: float = 60
) -> tuple[int, bytes]:
    """Run ``argv`` with stdin, stdout and stderr on a pty; its exit code and all it wrote."""
    controller, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True
    )
    os.close(terminal)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: the program closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
        else:
            raise TimeoutError(f"{argv} still running after {timeout} s:\n{output.decode()}")
    finally:
        os.close(controller)
        process.kill()
        code = process.wait()
    return code, bytes(output)


def screen(data: bytes, columns: int = 100) -> list[str]:
    """The lines a terminal of ``columns`` columns shows after receiving ``data``."""
    text = data.decode("utf-8", "replace")
    rows: list[list[str]] = [[]]
    row = column = 0
    pending_wrap = False

    def line() -> list[str]:
        while len(rows) <= row:
            rows.append([])
        cells = rows[row]
        while len(cells) < columns:
            cells.append(" ")
        return cells

    position = 0
    while position < len(text):
        char = text[position]
        if char == "\x1b":
            match = _CSI.match(text, position)
            if match is None:
                position += 2  # a two-character escape (e.g. ESC 7): nothing to draw
                continue
            position = match.end()
            params, final = match.groups()
            count = int(params) if params.isdigit() else None
            pending_wrap = False
            if final == "A":
                row = max(0, row - (count or 1))
            elif final == "B":
                row += count or 1
            elif final == "G":
                column = min(columns, count or 1) - 1
            elif final == "K":
                cells = line()
                if count == 2:
                    cells[:] = [" "] * columns
                elif count == 1:
                    cells[: column + 1] = [" "] * (column + 1)
                else:
                    cells[column:] = [" "] * (columns - column)
            continue
        position += 1
        if char == "\r":
            column, pending_wrap = 0, False
        elif char == "\n":
            row, column, pending_wrap = row + 1, 0, False
        elif char == "\b":
            column, pending_wrap = max(0, column - 1), False
        elif char >= " ":
            if pending_wrap:
                row, column, pending_wrap = row + 1, 0, False
            line()[column] = char
            if column == columns - 1:
                pending_wrap = True
            else:
                column += 1
    lines = ["".join(cells).rstrip() for cells in rows]
    while lines and not lines[-1]:
        lines.pop()
    return lines
