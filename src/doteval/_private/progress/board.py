"""The runs drawing to one output, and the live region they share on a terminal.

A terminal can show one live region, so every run drawing to the same output
joins one board; the last to leave stops it.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import attrs

from doteval._private.progress.snapshot import Snapshot
from doteval._private.progress.target import DisplayTarget

if TYPE_CHECKING:
    from doteval._private.progress.display import ProgressDisplay

REFRESH_INTERVAL = 0.25
"""Seconds between redraws on a terminal: at most four a second, whatever the item rate."""

PLAIN_INTERVAL = 5.0
"""Seconds between plain progress lines when the output is not a terminal (CI logs)."""

FIRST_DRAW_DELAY = 0.5
"""A run shorter than this draws nothing on a terminal, so quick runs stay quiet."""

RATE_WINDOW = 10.0
"""Seconds of history behind items/s and the ETA: recent enough to follow a slowdown."""


@attrs.define(eq=False, repr=False)
class Board:
    """The runs drawing to one output, and the live region they share on a terminal."""

    target: DisplayTarget
    runs: list[ProgressDisplay] = attrs.field(factory=list)
    lock: threading.Lock = attrs.field(factory=threading.Lock)
    live: Any = None
    begun: bool = False
    last_draw: float = 0.0

    def _begin(self) -> None:
        if not self.begun:
            self.begun = True
            self.target.begin()

    def redraw(self) -> None:
        with self.lock:
            now = time.monotonic()
            # Several runs share the board, each waking it: keep the rate bounded.
            if now - self.last_draw < REFRESH_INTERVAL / 2:
                return
            self.last_draw = now
            if self.live is None:
                self._start_live()
            self.live.update(self._table(now), refresh=True)

    def write_line(self, run: ProgressDisplay) -> None:
        with self.lock:
            self._begin()
            run._lines += 1
            self.target.write_line(run.snapshot(time.monotonic()).line())

    def leave(self, run: ProgressDisplay, finished: bool) -> None:
        with self.lock:
            now = time.monotonic()
            final = attrs.evolve(run.snapshot(now), ended="finished" if finished else "stopped")
            self.runs.remove(run)
            try:
                self._show_end(run, final, finished, now)
            except (OSError, ValueError):  # the output went away: the run's result stands
                self.live = None

    def _show_end(self, run: ProgressDisplay, final: Snapshot, finished: bool, now: float) -> None:
        if self.live is not None:
            self.live.update(self._table(now))  # without the run that is leaving
            if self.target.keep_final:
                self.live.console.print(_table([final]))
            if self.runs:
                self.live.update(self._table(now), refresh=True)
            else:
                self.live.stop()
                self.live = None
        elif run._lines and not (finished and self.target.summarise):
            # A finished run's summary follows and says the same: only a stopped run's here.
            self.target.write_line(final.final_line(finished))
        if not self.runs and self.begun:
            self.begun = False
            self.target.end()

    def say(self, lines: list[str]) -> None:
        """Lines for the user: above the live region while one is shown."""
        with self.lock:
            if self.live is not None:
                from rich.text import Text

                for line in lines:
                    self.live.console.print(Text(line))
                return
            begun = self.begun
            if not begun:
                self.target.begin()
            for line in lines:
                self.target.write_line(line)
            if not begun:
                self.target.end()

    def _start_live(self) -> None:
        from rich.console import Console
        from rich.live import Live

        target = self.target
        console = Console(
            file=target.file,
            force_terminal=True,
            width=target.width,
            no_color=not target.color,
            highlight=False,
        )
        self._begin()
        self.live = Live(
            console=console,
            auto_refresh=False,  # our thread refreshes; rich's own would outlive nothing
            transient=True,
            redirect_stdout=target.redirect,
            redirect_stderr=target.redirect,
        )
        self.live.start()

    def _table(self, now: float) -> Any:
        return _table([run.snapshot(now) for run in self.runs])


def _table(snapshots: list[Snapshot]) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table.grid(padding=(0, 1))
    table.add_column(max_width=32, no_wrap=True, overflow="ellipsis")
    table.add_column(min_width=4, max_width=30)
    table.add_column(no_wrap=True, overflow="ellipsis")
    for snapshot in snapshots:
        fields = snapshot.fields()
        if snapshot.errors:
            fields[-2] = f"[red]{fields[-2]}[/red]"
        table.add_row(
            Text(snapshot.label, style="bold"),
            _bar(snapshot),
            "  ".join(fields),
        )
    return table


def _bar(snapshot: Snapshot) -> Any:
    from rich.progress_bar import ProgressBar

    if snapshot.total == 0:  # nothing to do is all done
        return ProgressBar(total=1, completed=1)
    total = snapshot.total
    return ProgressBar(total=total, completed=snapshot.done, pulse=total is None)


_boards: dict[int, Board] = {}
_boards_lock = threading.Lock()


def join(run: ProgressDisplay) -> Board:
    with _boards_lock:
        board = _boards.get(id(run.target.file))
        if board is None:
            board = _boards[id(run.target.file)] = Board(run.target)
        with board.lock:
            board.runs.append(run)
        return board


def leave(run: ProgressDisplay, finished: bool) -> None:
    with _boards_lock:
        board = run._board
        assert board is not None
        board.leave(run, finished)
        if not board.runs:
            del _boards[id(run.target.file)]


def say(target: DisplayTarget, lines: list[str]) -> None:
    """Write ``lines`` to ``target``, through the board of the runs drawing there, if any."""
    if not lines:
        return
    with _boards_lock:
        board = _boards.get(id(target.file))
    (board or Board(target)).say(lines)
