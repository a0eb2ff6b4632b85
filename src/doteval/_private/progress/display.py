"""The live progress display: a row per running evaluation, redrawn on a timer.

The run's consumer only bumps counters (``record`` is two increments); a thread per
run wakes a few times a second to draw, so the display costs the event loop nothing
and keeps moving when an evaluation blocks the loop. The thread is joined when the
run's hook exits. Runs drawing to the same output share one board (:mod:`.board`).
"""

from __future__ import annotations

import collections
import contextlib
import operator
import threading
import time
from collections.abc import AsyncIterator, Sized
from typing import Any

import attrs

from doteval._private.progress.board import (
    FIRST_DRAW_DELAY,
    PLAIN_INTERVAL,
    RATE_WINDOW,
    REFRESH_INTERVAL,
    Board,
    join,
    leave,
    say,
)
from doteval._private.progress.snapshot import Snapshot, resumed_text
from doteval._private.progress.summary import end_lines
from doteval._private.progress.target import DisplayTarget, display_target, standard_error
from doteval._private.results.records import Record
from doteval._private.run.counters import LiveStats
from doteval._private.run.plan import RunEnd
from doteval._private.storage.shard import Shard


def _total(dataset: Any, rows: Any, samples: int | None) -> int | None:
    total: int | None = None
    if isinstance(dataset, Sized):
        try:
            total = len(dataset)
        except Exception:  # a dataset whose length is unknown until read
            total = None
    for source in (dataset, rows):  # a loader's dataset or its iterator may know
        if total is not None or isinstance(source, AsyncIterator):
            continue
        try:
            hint = operator.length_hint(source, -1)
        except Exception:
            hint = -1
        total = hint if hint >= 0 else None
    if samples is not None:
        total = samples if total is None else min(total, samples)
    return total


def open_display(
    enabled: bool | None,
    label: str,
    dataset: Any,
    rows: Any,
    samples: int | None,
    epochs: int = 1,
    *,
    shard: Shard | None = None,
) -> ProgressDisplay | None:
    """The display hook of a run, or ``None`` when ``progress=False``; with several
    epochs it counts item-epochs, and says so; a shard's counts its share."""
    if enabled is False:
        return None
    target = display_target.get() or standard_error()
    total = _total(dataset, rows, samples)
    if shard is not None:
        label = f"{label} [shard {shard}]"
        total = None if total is None else shard.size_of(total)
    return ProgressDisplay(
        label,
        None if total is None else total * epochs,
        LiveStats(),
        target,
        unit="item" if epochs == 1 else "item-epoch",
    )


@attrs.define(eq=False, repr=False)
class ProgressDisplay:
    """The run hook that shows one run's progress."""

    label: str
    total: int | None
    stats: LiveStats
    target: DisplayTarget
    unit: str = attrs.field(default="item", kw_only=True)
    done: int = 0
    errors: int = 0
    _board: Board | None = None
    _thread: threading.Thread | None = None
    _stop: threading.Event = attrs.field(factory=threading.Event)
    _started_at: float = 0.0
    _samples: collections.deque[tuple[float, int]] = attrs.field(factory=collections.deque)
    _lines: int = 0
    _resumed: int = 0

    async def __aenter__(self) -> ProgressDisplay:
        self._started_at = time.monotonic()
        self._board = join(self)
        self._thread = threading.Thread(
            target=self._tick, name=f"doteval progress of {self.label}", daemon=True
        )
        self._thread.start()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        leave(self, finished=exc_info[0] is None)

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
            self.unit,
            self._resumed,
        )

    def resumed(self, stored: int) -> None:
        """Say at once that the run resumes, and keep saying it in its row."""
        self._resumed = stored
        say(self.target, [f"{self.label}: {resumed_text(stored, self.total)}"])

    def ended(self, end: RunEnd) -> None:
        """The summary, or what an interruption kept and how to resume it."""
        lines = end_lines(
            self.label,
            end,
            self.total,
            self.stats.retries,
            self.target.how_to_resume,
            self.target.summarise,
            self._resumed,
        )
        with contextlib.suppress(OSError, ValueError):  # the output went away: the result stands
            say(self.target, lines)

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
