"""Detects code that blocks the event loop of an async run, and says what it was.

A late tick says that the event loop did not run, not why: one blocking call, many
quick items in one scheduler pass, a dataset reading its rows, or a process that
was stopped (``kill -STOP``, Ctrl-Z) all make it late. A sampler thread looks at
the event loop thread's stack between ticks and tells them apart: where the loop
thread spent most of the late tick (in the evaluation, in the dataset, stuck in
one place elsewhere, or idle in the event loop's own wait, late because other
threads or processes had the CPU), and whether the sampler itself ran meanwhile (it
cannot while the process is stopped). Time the interpreter spent collecting garbage
is not held against anyone: every thread stops for it, and no rewrite of the
evaluation helps.
"""

from __future__ import annotations

import collections
import gc
import itertools
import os
import sys
import threading
import time
import warnings
from types import FrameType

import anyio
import attrs

from doteval._private.concurrency.ticker import Ticker
from doteval._private.errors import BlockingEvaluationWarning
from doteval._private.run.item import ItemRunner
from doteval._private.run.producer import _each

_EVALUATION = ItemRunner._call.__code__
"""On the stack while an item's own code runs (an async evaluation runs inside it)."""
_DATASET = _each.__code__
"""On the stack while the producer reads a row (the dataset's own code runs inside it)."""

SAMPLES = 512
"""Samples kept: a late tick is judged on the last ones (512 ticks of the sampler)."""

_current_frames = getattr(sys, "_current_frames", None)

_WAITS = frozenset(
    {
        ("selectors.py", "select"),  # asyncio's selector loops
        ("_io_epoll.py", "get_events"),  # trio's I/O managers
        ("_io_kqueue.py", "get_events"),
        ("_io_windows.py", "get_events"),
    }
)
"""Where an event loop waits for I/O and its next timer: a loop thread seen there was
idle, so what made it late was outside it (other threads holding the interpreter, or a
machine too busy to run it), not code of the run's."""


@attrs.frozen(repr=False)
class _Sample:
    at: float
    kind: str
    """``evaluation``, ``dataset``, ``idle`` (in the event loop's wait), ``other``, or
    ``unknown`` (the stack is not visible)."""
    call: int
    """Which call was innermost: equal across samples while one call has not returned."""
    where: str


def _classify(frame: FrameType | None) -> tuple[str, str]:
    if frame is None:
        return "unknown", ""
    code = frame.f_code
    if (os.path.basename(code.co_filename), code.co_name) in _WAITS:
        return "idle", _where(frame)
    inner: FrameType | None = None  # the frame called by ``current``
    current: FrameType | None = frame
    while current is not None:
        code = current.f_code
        if code is _EVALUATION or code is _DATASET:
            kind = "evaluation" if code is _EVALUATION else "dataset"
            return kind, _where(inner or current)
        inner, current = current, current.f_back
    return "other", _where(frame)


def _where(frame: FrameType) -> str:
    return f"{frame.f_code.co_name} in {frame.f_code.co_filename}:{frame.f_lineno}"


@attrs.define(eq=False, repr=False)
class _Sampler:
    """A thread that notes, every ``interval`` seconds, what the loop thread is running."""

    loop_thread: int
    interval: float
    _samples: collections.deque[_Sample] = attrs.field(
        factory=lambda: collections.deque(maxlen=SAMPLES)
    )
    _lock: threading.Lock = attrs.field(factory=threading.Lock)
    _done: threading.Event = attrs.field(factory=threading.Event)
    _thread: threading.Thread | None = None
    _innermost: FrameType | None = None
    """The last sample's innermost frame, held so that a later call cannot reuse its
    address: a hot function called again and again at one depth would otherwise look
    like one call that never returned."""
    _calls: int = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="doteval-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            frames = _current_frames() if _current_frames is not None else {}
            frame = frames.get(self.loop_thread)
            del frames
            kind, where = _classify(frame)
            if frame is None or frame is not self._innermost:
                self._calls += 1
            self._innermost = frame
            del frame
            with self._lock:
                self._samples.append(_Sample(time.monotonic(), kind, self._calls, where))
        self._innermost = None

    def between(self, start: float, end: float) -> list[_Sample]:
        with self._lock:
            return [sample for sample in self._samples if start <= sample.at <= end]


def _most(samples: list[_Sample], kind: str) -> tuple[int, str]:
    """How many of ``samples`` are of ``kind``, and where most of those were."""
    places = collections.Counter(sample.where for sample in samples if sample.kind == kind)
    if not places:
        return 0, ""
    return sum(places.values()), places.most_common(1)[0][0]


@attrs.define(eq=False, repr=False)
class _CollectorClock:
    """Seconds the garbage collector has run since ``start``: a full collection of a big
    heap stops the loop for as long as a blocking call does."""

    total: float = 0.0
    _began: float | None = None

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.monotonic()
        elif self._began is not None:
            self.total += time.monotonic() - self._began
            self._began = None

    def start(self) -> None:
        gc.callbacks.append(self)

    def stop(self) -> None:
        gc.callbacks.remove(self)


@attrs.define(repr=False)
class BlockingWatchdog(Ticker):
    """Sleeps in short ticks and warns once when a tick comes back late because something
    blocked the event loop; measuring the lag costs one wake-up per tick, not a timer per item.
    """

    evaluation: str
    threshold: float

    async def tick(self) -> None:
        interval = self.threshold / 10
        sampler = _Sampler(threading.get_ident(), interval)
        collector = _CollectorClock()
        sampler.start()
        collector.start()
        try:
            while True:
                before, cpu = time.monotonic(), time.process_time()
                collected = collector.total
                await anyio.sleep(interval)
                after = time.monotonic()
                due = before + interval  # from then on the loop was busy or blocked
                lag = after - due
                if lag - (collector.total - collected) < self.threshold:
                    continue
                samples = sampler.between(due, after)
                if _not_running(samples, due, after, time.process_time() - cpu):
                    continue
                message = self.explain(lag, samples)
                if message is not None:
                    warnings.warn(message, BlockingEvaluationWarning, stacklevel=1)
                    return
        finally:
            collector.stop()
            sampler.stop()

    def explain(self, lag: float, samples: list[_Sample]) -> str | None:
        """What blocked the loop for ``lag`` seconds, from the stacks seen meanwhile;
        ``None`` when it was busy with many short steps (no one of them to blame)."""
        seen = f"the event loop did not run for {lag:.2f} s"
        half = len(samples) / 2
        if samples and sum(sample.kind == "idle" for sample in samples) >= half:
            return None  # waiting for its next timer all along: held up from outside
        count, where = _most(samples, "evaluation")
        if samples and count >= half:
            return (
                f"{seen} while {self.evaluation} was running: the evaluation held it "
                f"({where}) with a blocking call or a long computation, which stalls "
                f"every other item. Run blocking code with "
                f"`await anyio.to_thread.run_sync(fn, *args)`, or write the evaluation "
                f"as a plain `def` (doteval then runs it in worker threads)"
            )
        count, where = _most(samples, "dataset")
        if samples and count >= half:
            return (
                f"{seen} while the dataset of {self.evaluation} was read ({where}): a "
                f"plain iterator or generator that blocks (on files, the network, a "
                f"slow computation) stalls every item. Read the rows into a list before "
                f"the run, or make the dataset an async generator that awaits its "
                f"blocking calls with `await anyio.to_thread.run_sync(fn, *args)`"
            )
        calls = collections.Counter(s.call for s in samples if s.kind == "other")
        if calls and calls.most_common(1)[0][1] >= half:
            call = calls.most_common(1)[0][0]
            where = next(s.where for s in samples if s.call == call)
            return (
                f"{seen} while {self.evaluation} was running: code outside the "
                f"evaluation and its dataset was stuck in one call ({where}), and every "
                f"item waited. Run blocking calls with "
                f"`await anyio.to_thread.run_sync(fn, *args)`"
            )
        if samples and all(sample.kind != "unknown" for sample in samples):
            return None  # many short steps: busy, not blocked
        return (
            f"{seen} while {self.evaluation} was running: code on the event loop's "
            f"thread held the interpreter (a blocking call, a long computation, or a C "
            f"extension that keeps the GIL), which stalls every item. Run blocking code "
            f"with `await anyio.to_thread.run_sync(fn, *args)`, or write the evaluation "
            f"as a plain `def` (doteval then runs it in worker threads)"
        )

    def stop(self) -> None:
        self.scope.cancel()


def _not_running(samples: list[_Sample], start: float, end: float, cpu: float) -> bool:
    """Whether the whole process was stopped (or not scheduled) for most of a late tick:
    the sampler thread did not run either, and no CPU time was used meanwhile."""
    times = [start, *(sample.at for sample in samples), end]
    gap = max(later - earlier for earlier, later in itertools.pairwise(times))
    return gap >= (end - start) / 2 and cpu < (end - start) / 10
