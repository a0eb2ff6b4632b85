"""Drawing progress on pytest's terminal while pytest captures the test's output.

During a test pytest points file descriptors 1 and 2 at its capture files, so the
display writes to its own duplicate of the terminal's descriptor, taken at start-up.
On a terminal it starts below pytest's current line and, once erased, puts the
cursor back where pytest left it, so pytest's own output reads as if nothing had been
drawn. In a log, its lines interrupt pytest's line, which it then starts again.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

import attrs
import pytest

from doteval._private.progress.target import DisplayTarget


@attrs.define(eq=False, repr=False)
class PytestTarget(DisplayTarget):
    config: pytest.Config | None = None
    owned: bool = False
    """Whether ``file`` is our duplicate of the terminal, to close at the end."""
    _column: int = 0
    _prefix: Any = None
    """What pytest's current line starts with (``currentfspath``), to write it again."""

    @classmethod
    def open(cls, config: pytest.Config) -> PytestTarget:
        stream: TextIO = sys.stdout  # what pytest's terminal reporter writes to
        try:
            descriptor = os.dup(stream.fileno())
        except (AttributeError, OSError, ValueError):  # not a real file: write to it directly
            return cls(stream, False, keep_final=False, summarise=False, config=config)
        file = os.fdopen(descriptor, "w", encoding="utf-8", errors="replace", closefd=True)
        terminal = file.isatty()
        try:
            width = os.get_terminal_size(descriptor).columns if terminal else None
        except OSError:
            width = None
        return cls(
            file,
            terminal,
            keep_final=False,
            summarise=False,
            width=width,
            color=config.getoption("color", "auto") != "no",
            config=config,
            owned=True,
        )

    def close(self) -> None:
        if self.owned:
            self.file.close()

    def _reporter(self) -> Any:
        assert self.config is not None
        return self.config.pluginmanager.get_plugin("terminalreporter")

    def begin(self) -> None:
        reporter = self._reporter()
        if reporter is None:
            return
        reporter.flush()  # what pytest wrote must come before what we write
        if self.is_terminal:
            self._column = reporter._tw.width_of_current_line
            self.file.write("\n")
            self.file.flush()
        else:
            self._prefix = reporter.currentfspath

    def end(self) -> None:
        if self.is_terminal:
            # The live region is erased and the cursor sits below pytest's line: go back.
            column = self._column % self.width if self.width else self._column
            self.file.write("\x1b[1A" + (f"\x1b[{column + 1}G" if column else "\r"))
        else:
            # Our lines interrupted pytest's: start it again, as pytest itself would.
            prefix = self._prefix
            if isinstance(prefix, os.PathLike):
                reporter = self._reporter()
                prefix = os.path.relpath(prefix, reporter.startpath) + " " if reporter else ""
            self.file.write("\n" + (prefix if isinstance(prefix, str) else ""))
        self.file.flush()

    def how_to_resume(self, experiment: str) -> str:
        return f"--experiment {experiment}"

    def write_line(self, text: str) -> None:
        # Each line starts with the newline that ends the line before (pytest's or ours).
        self.file.write("\n" + text)
        self.file.flush()
