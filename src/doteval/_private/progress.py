"""The live progress display: a row per running evaluation, redrawn on a timer.

The run's consumer only bumps counters (``record`` is two increments); a thread per
run wakes a few times a second to draw, so the display costs the event loop nothing
and keeps moving when an evaluation blocks the loop. The thread is joined when the
run's hook exits. Runs drawing to the same output share one live region, because a
terminal can only show one.
"""

from __future__ import annotations

import collections
import operator
import sys
import threading
import time
from collections.abc import AsyncIterator, Sized
from contextvars import ContextVar
from typing import Any, TextIO

import attrs

from doteval._private.live import LiveStats
from doteval._private.records import Record

REFRESH_INTERVAL = 0.25
"""Seconds between redraws on a terminal: at most four a second, whatever the item rate."""

PLAIN_INTERVAL = 5.0
"""Seconds between plain progress lines when the output is not a terminal (CI logs)."""

FIRST_DRAW_DELAY = 0.5
"""A run shorter than this draws nothing on a terminal, so quick runs stay quiet."""

RATE_WINDOW = 10.0
"""Seconds of history behind items/s and the ETA: recent enough to follow a slowdown."""


@attrs.define(eq=False)
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

    def begin(self) -> None:
        """Called before the first output of a display session."""

    def end(self) -> None:
        """Called after its last output."""

    def write_line(self, text: str) -> None:
        self.file.write(text + "\n")
        self.file.flush()


display_target: ContextVar[DisplayTarget | None] = ContextVar(
    "doteval_display_target", default=None
)
"""Overrides the default target (standard error); set by the pytest plugin."""


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _standard_error() -> DisplayTarget:
    terminal = _isatty(sys.stderr)
    return DisplayTarget(sys.stderr, terminal, redirect=terminal and _isatty(sys.stdout))


def _total(dataset: Any, rows: Any, samples: int | None) -> int | None:
    total: int | None = None
    if isinstance(dataset, Sized):
        try:
            total = len(dataset)
        except Exception:  # a dataset whose length is unknown until read
            total = None
    if total is None and not isinstance(rows, AsyncIterator):
        try:
            hint = operator.length_hint(rows, -1)
        except Exception:
            hint = -1
        total = hint if hint >= 0 else None
    if samples is not None:
        total = samples if total is None else min(total, samples)
    return total


def open_display(
    enabled: bool | None, label: str, dataset: Any, rows: Any, samples: int | None
) -> ProgressDisplay | None:
    """The display hook of a run, or ``None`` when ``progress=False``."""
    if enabled is False:
        return None
    target = display_target.get() or _standard_error()
    return ProgressDisplay(label, _total(dataset, rows, samples), LiveStats(), target)


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@attrs.frozen
class Snapshot:
    """One reading of a run, as the display shows it."""

    label: str
    done: int
    total: int | None
    rate: float
    eta: float | None
    in_flight: int
    errors: int
    retries: int
    elapsed: float
    skipped: int = 0
    """Items done before, by the run this one resumes (included in ``done``)."""

    def fields(self) -> list[str]:
        count = f"{self.done:,}" if self.total is None else f"{self.done:,}/{self.total:,}"
        fields = [count, f"{self.rate:,.1f} items/s"]
        if self.total is not None:
            fields.append("ETA " + ("--" if self.eta is None else _duration(self.eta)))
        fields += [
            f"{self.in_flight:,} in flight",
            _plural(self.errors, "error"),
            _plural(self.retries, "retry", "retries"),
        ]
        return fields

    def line(self) -> str:
        return f"{self.label}: " + ", ".join(self.fields())

    def final_line(self, finished: bool) -> str:
        outcome = "finished" if finished else "stopped after"
        resumed = f" ({self.skipped:,} stored before)" if self.skipped else ""
        rate = (self.done - self.skipped) / max(self.elapsed, 1e-9)
        return (
            f"{self.label}: {outcome} {_plural(self.done, 'item')}{resumed} in "
            f"{_duration(self.elapsed)} ({rate:,.1f} items/s), "
            f"{_plural(self.errors, 'error')}, {_plural(self.retries, 'retry', 'retries')}"
        )


@attrs.define(eq=False)
class ProgressDisplay:
    """The run hook that shows one run's progress."""

    label: str
    total: int | None
    stats: LiveStats
    target: DisplayTarget
    done: int = 0
    errors: int = 0
    _board: _Board | None = None
    _thread: threading.Thread | None = None
    _stop: threading.Event = attrs.field(factory=threading.Event)
    _started_at: float = 0.0
    _samples: collections.deque[tuple[float, int]] = attrs.field(factory=collections.deque)
    _lines: int = 0

    async def __aenter__(self) -> ProgressDisplay:
        self._started_at = time.monotonic()
        self._board = _join(self)
        self._thread = threading.Thread(
            target=self._tick, name=f"doteval progress of {self.label}", daemon=True
        )
        self._thread.start()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        _leave(self, finished=exc_info[0] is None)

    def record(self, record: Record) -> None:
        self.done += 1
        if record.error is not None:
            self.errors += 1

    def snapshot(self, now: float) -> Snapshot:
        """Read the counters; called with the board's lock held."""
        done = self.done
        samples = self._samples
        samples.append((now, done))
        while len(samples) > 2 and now - samples[0][0] > RATE_WINDOW:
            samples.popleft()
        since, done_then = samples[0]
        if now - since < 1.0:  # too short a window: use the whole run
            since, done_then = self._started_at, 0
        rate = (done - done_then) / max(now - since, 1e-9)
        done += self.stats.skipped  # done before, by the run this one resumes
        eta = None
        if self.total is not None and rate > 0:
            eta = max(self.total - done, 0) / rate
        return Snapshot(
            self.label,
            done,
            self.total,
            rate,
            eta,
            max(self.stats.in_flight, 0),
            self.errors,
            self.stats.retries,
            now - self._started_at,
            self.stats.skipped,
        )

    def _tick(self) -> None:
        board = self._board
        assert board is not None
        terminal = self.target.is_terminal
        wait = FIRST_DRAW_DELAY if terminal else PLAIN_INTERVAL
        while not self._stop.wait(wait):
            try:
                if terminal:
                    board.redraw()
                else:
                    board.write_line(self)
            except (OSError, ValueError):  # the output went away: stop drawing, not the run
                return
            wait = REFRESH_INTERVAL if terminal else PLAIN_INTERVAL


@attrs.define(eq=False)
class _Board:
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
            final = run.snapshot(now)
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
        elif run._lines:
            self.target.write_line(final.final_line(finished))
        if not self.runs and self.begun:
            self.begun = False
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


_boards: dict[int, _Board] = {}
_boards_lock = threading.Lock()


def _join(run: ProgressDisplay) -> _Board:
    with _boards_lock:
        board = _boards.get(id(run.target.file))
        if board is None:
            board = _boards[id(run.target.file)] = _Board(run.target)
        with board.lock:
            board.runs.append(run)
        return board


def _leave(run: ProgressDisplay, finished: bool) -> None:
    with _boards_lock:
        board = run._board
        assert board is not None
        board.leave(run, finished)
        if not board.runs:
            del _boards[id(run.target.file)]
