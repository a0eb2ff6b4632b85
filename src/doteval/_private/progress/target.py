"""Where progress goes: standard error in scripts, pytest's terminal under the plugin."""

from __future__ import annotations

import sys
from contextvars import ContextVar
from typing import Any, TextIO

import attrs


@attrs.define(eq=False, repr=False)
class DisplayTarget:
    """Where progress goes: standard error by default; pytest's terminal under the plugin."""

    file: TextIO
    is_terminal: bool
    keep_final: bool = True
    """Leave each run's last row on screen (the pytest plugin prints a table instead)."""
    redirect: bool = False
    """Route the program's own prints above the live region while it is shown."""
    width: int | None = None
    color: bool = True
    summarise: bool = True
    """End each run with its summary (the pytest plugin prints a table of them instead)."""

    def begin(self) -> None:
        """Called before the first output of a display session."""

    def end(self) -> None:
        """Called after its last output."""

    def write_line(self, text: str) -> None:
        self.file.write(text + "\n")
        self.file.flush()

    def how_to_resume(self, experiment: str) -> str:
        """What to pass to run an interrupted evaluation again, where it left off."""
        return f'experiment="{experiment}"'


display_target: ContextVar[DisplayTarget | None] = ContextVar(
    "doteval_display_target", default=None
)
"""Overrides the default target (standard error); set by the pytest plugin."""


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def standard_error() -> DisplayTarget:
    terminal = _isatty(sys.stderr)
    return DisplayTarget(sys.stderr, terminal, redirect=terminal and _isatty(sys.stdout))
