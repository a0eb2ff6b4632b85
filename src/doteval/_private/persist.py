"""Persisting a run: the ``RunHook`` that hands records to a store thread.

The run's single consumer calls :meth:`PersistHook.record` for every record; that
only appends to a queue. One store thread, started when the hook is entered and
joined before it exits, does all the store's I/O: it takes the lease, reads what a
resumed run skips, writes the queue in batches (every ``BATCH_SIZE`` records or
``FLUSH_INTERVAL`` seconds) and keeps the lease's heartbeat. Leaving the hook, also
on cancellation or Ctrl-C, flushes what finished and marks how the run ended.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import sys
import threading
import time
import warnings
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

import anyio
import anyio.from_thread
import anyio.lowlevel
import attrs

from doteval._private.aggregate import Aggregator
from doteval._private.exception_groups import leaf_errors
from doteval._private.records import Record
from doteval._private.resume import StoredCursor
from doteval._private.storage.base import (
    COMPLETED,
    FAILED,
    INTERRUPTED,
    PARTIAL,
    DatasetChangedError,
    Storage,
    StorageWarning,
    StoredState,
    Writer,
    open_storage,
)
from doteval._private.storage.lease import HEARTBEAT_INTERVAL, Lease, activate, deactivate
from doteval._private.storage.naming import check_evaluation_name, check_experiment_name
from doteval._private.storage.serialize import row_hash

BATCH_SIZE = 1000
FLUSH_INTERVAL = 0.2
"""Seconds a finished record may wait in memory: what a SIGKILL can lose at most."""

MAX_PENDING = 20 * BATCH_SIZE
"""Records waiting for the store thread before the run waits for it: the store, not
memory, absorbs a run that finishes items faster than they can be written."""


def git_commit(start: str) -> str | None:
    """The commit checked out in the repository holding ``start``, read without running git."""
    for directory in (Path(start), *Path(start).parents):
        git = directory / ".git"
        if git.is_file():  # a worktree or submodule: "gitdir: PATH"
            text = git.read_text(encoding="utf-8").strip()
            if not text.startswith("gitdir:"):
                return None
            git = (directory / text.partition(":")[2].strip()).resolve()
        if not git.is_dir():
            continue
        try:
            head = (git / "HEAD").read_text(encoding="utf-8").strip()
            if not head.startswith("ref:"):
                return head
            ref = head.partition(":")[2].strip()
            common = git
            if (git / "commondir").is_file():
                common = (git / (git / "commondir").read_text().strip()).resolve()
            for base in (git, common):
                if (base / ref).is_file():
                    return (base / ref).read_text(encoding="utf-8").strip()
            packed = common / "packed-refs"
            if packed.is_file():
                for line in packed.read_text(encoding="utf-8").splitlines():
                    if line.endswith(" " + ref):
                        return line.split(" ", 1)[0]
        except OSError:
            return None
        return None
    return None


@attrs.frozen
class StoreTarget:
    """Where a run is persisted; the evaluation's identity is the plan's ``evaluation``."""

    url: str | None
    experiment: str = attrs.field(validator=lambda _, __, name: check_experiment_name(name))
    announce: bool = False
    options: Mapping[str, Any] = attrs.field(factory=dict)


def _metadata(options: Mapping[str, Any]) -> dict[str, Any]:
    from doteval import __version__

    return {
        "doteval": __version__,
        "python": platform.python_version(),
        "git_commit": git_commit(os.getcwd()),
        "host": platform.node(),
        "pid": os.getpid(),
        "options": dict(options),
    }


def _ended_by(error: BaseException | None) -> str | None:
    """The status a run ends with, from what ended it (``None``: it changed nothing)."""
    if error is None:
        return COMPLETED
    stopped = (anyio.get_cancelled_exc_class(), KeyboardInterrupt)
    real = [leaf for leaf in leaf_errors(error) if not isinstance(leaf, stopped)]
    if not real:
        return INTERRUPTED
    if all(isinstance(leaf, DatasetChangedError) for leaf in real):
        return None
    return FAILED


T = TypeVar("T")


@attrs.define(eq=False)
class _Call:
    """Work handed to the store thread, and how to tell the event loop it is done."""

    fn: Callable[[], Any]
    done: anyio.Event
    token: anyio.lowlevel.EventLoopToken
    value: Any = None
    error: BaseException | None = None

    async def result(self) -> Any:
        await self.done.wait()
        if self.error is not None:
            raise self.error
        return self.value

    def run(self) -> None:
        try:
            self.value = self.fn()
        except BaseException as exc:
            self.error = exc
        # The event loop may be gone or going (Ctrl-C): then nobody waits for the answer.
        with contextlib.suppress(Exception):
            anyio.from_thread.run_sync(self.done.set, token=self.token)


@attrs.define(eq=False)
class PersistHook:
    """Stores every record of a run, resuming what the store already holds.

    All store I/O happens on one thread of the hook's own (not anyio's thread pool,
    whose idle threads outlive a run), which is joined before the hook exits.
    """

    target: StoreTarget
    evaluation: str
    aggregator: Aggregator
    columns: tuple[str, ...]
    samples: int | None
    cut_short: bool = False
    """Set by the producer when ``samples`` stopped the run before the dataset ended."""
    storage: Storage | None = None
    cursor: StoredCursor | None = None
    _lease: Lease | None = None
    _stored: StoredState | None = None
    _writer: Writer | None = None
    _thread: threading.Thread | None = None
    _calls: deque[_Call] = attrs.field(factory=deque)
    _pending: deque[Record] = attrs.field(factory=deque)
    _wake: threading.Event = attrs.field(factory=threading.Event)
    _done: bool = False
    _error: BaseException | None = None
    _replaced: str | None = None
    _warned: bool = False
    _seed: Aggregator | None = None
    _room: _Call | None = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> _Call:
        """Queue ``fn(*args)`` for the store thread; await ``.result()`` for its value."""
        call = _Call(functools.partial(fn, *args), anyio.Event(), anyio.lowlevel.current_token())
        self._calls.append(call)
        self._wake.set()
        return call

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the store thread and wait for its result."""
        return cast(T, await self.submit(fn, *args).result())

    async def __aenter__(self) -> PersistHook:
        self._thread = threading.Thread(
            target=self._run, name=f"doteval-store-{self.target.experiment}", daemon=True
        )
        self._thread.start()
        try:
            # Shielded: the store thread must finish this call before it can be joined.
            with anyio.CancelScope(shield=True):
                await self.call(self._open)
        except BaseException:
            self._stop_thread()
            raise
        assert self._stored is not None
        if self._stored.extent:
            self.cursor = StoredCursor(
                self._fetch, self.columns, self.target.experiment, self.evaluation
            )
        if self.target.announce:
            assert self.storage is not None
            print(
                f"doteval: experiment {self.target.experiment} ({self.storage.url})",
                file=sys.stderr,
            )
        return self

    def _fetch(self, start: int, count: int) -> _Call:
        assert self._stored is not None
        return self.submit(self._stored.fetch, start, self.samples, count)

    def _stop_thread(self, join: bool = True) -> None:
        """Let the store thread return, and join it once it is idle (so at once)."""
        assert self._thread is not None
        self._done = True
        self._wake.set()
        if join:
            self._thread.join()

    def _open(self) -> None:
        """Open the store, take the lease, and pick up the totals of stored successes."""
        self.storage = storage = open_storage(self.target.url)
        experiment, evaluation = self.target.experiment, check_evaluation_name(self.evaluation)
        self._lease = lease = Lease.mine()
        activate(lease)  # before it is stored: a run of this process must see it alive
        try:
            self._stored = stored = storage.begin(
                experiment, evaluation, lease, _metadata(self.target.options)
            )
        except BaseException:
            deactivate(lease)
            raise
        try:
            self._writer = storage.writer(experiment, evaluation, self._lease)
            if self._writer.keeps_seed:
                self._seed = Aggregator(defer_custom=True)
                if stored.seed is not None:
                    self._seed.resume_from(dict(stored.seed))
                elif stored.extent:
                    self._replay(self._seed, None)
            if not stored.extent:
                return
            if stored.seed is not None and (self.samples is None or stored.extent <= self.samples):
                self.aggregator.resume_from(dict(stored.seed))
            else:
                self._replay(self.aggregator, self.samples)
        except BaseException:
            if self._writer is not None:
                self._writer.close()
            storage.release(experiment, evaluation, lease, stored.previous or INTERRUPTED)
            deactivate(lease)
            raise

    def _replay(self, aggregator: Aggregator, stop: int | None) -> None:
        assert self.storage is not None
        for record in self.storage.records(
            self.target.experiment, self.evaluation, stop=stop, successes_only=True
        ):
            aggregator.add(record)

    @property
    def backlogged(self) -> bool:
        return len(self._pending) >= MAX_PENDING

    async def wait_for_room(self) -> None:
        """Wait until the store thread has written half of the records waiting for it."""
        room = _Call(lambda: None, anyio.Event(), anyio.lowlevel.current_token())
        self._room = room  # set before the check below, so the thread cannot miss it
        self._wake.set()
        if len(self._pending) >= MAX_PENDING // 2 and self._error is None:
            await room.result()
        self._room = None

    def record(self, record: Record) -> None:
        self._pending.append(record)
        if len(self._pending) >= BATCH_SIZE:
            self._wake.set()
        if self._error is not None:
            raise self._error
        if self._replaced is not None and not self._warned:
            self._warn()

    def _warn(self) -> None:
        self._warned = True
        warnings.warn(
            f"{self.evaluation}: a value that JSON cannot hold ({self._replaced}) "
            f"was stored as its repr; later ones are stored the same way without warning",
            StorageWarning,
            stacklevel=3,
        )

    def _run(self) -> None:
        """The store thread: run calls, flush on a full batch or the interval, keep the
        lease alive; until the hook is done."""
        next_beat = time.monotonic() + HEARTBEAT_INTERVAL
        while not self._done:
            self._wake.wait(FLUSH_INTERVAL)
            self._wake.clear()
            while self._calls:
                self._calls.popleft().run()
            writer = self._writer
            if writer is None or self._error is not None:
                continue
            try:
                if self._pending:
                    self._drain(writer)
                    next_beat = time.monotonic() + HEARTBEAT_INTERVAL
                elif time.monotonic() >= next_beat:
                    writer.heartbeat()
                    next_beat = time.monotonic() + HEARTBEAT_INTERVAL
            except Exception as exc:  # raised in the run by record() or __aexit__
                self._error = exc
                room, self._room = self._room, None
                if room is not None:
                    room.run()  # the run must not wait for a writer that stopped

    def _drain(self, writer: Writer) -> None:
        pending = self._pending
        while pending:
            batch: list[tuple[Record, int]] = []
            seed = self._seed
            while len(batch) < 5 * BATCH_SIZE:
                try:
                    record = pending.popleft()
                except IndexError:
                    break
                batch.append((record, row_hash(record.row)))
                if seed is not None and record.error is None:
                    seed.add(record)
            replaced = writer.write(
                batch, self.aggregator.counts, None if seed is None else seed.snapshot()
            )
            if replaced is not None and self._replaced is None:
                self._replaced = replaced
            room = self._room
            if room is not None and len(pending) < MAX_PENDING // 2:
                self._room = None
                room.run()  # the run may take records again

    async def __aexit__(self, *exc_info: Any) -> None:
        status = _ended_by(exc_info[1])
        if status == COMPLETED and self.cut_short:
            status = PARTIAL
        closed = False
        try:
            with anyio.CancelScope(shield=True):
                await self.call(self._close, status)
            closed = True
        finally:
            assert self._lease is not None
            deactivate(self._lease)
            # Interrupted again while closing, the thread still needs the event loop to
            # report back: joining it here would deadlock, so it finishes on its own.
            self._stop_thread(join=closed)
        if self._replaced is not None and not self._warned:
            self._warn()
        if self._error is not None and exc_info[1] is None:
            raise self._error

    def _close(self, status: str | None) -> None:
        """Flush what is left and record how the run ended (on the store thread)."""
        assert self._writer is not None
        assert self.storage is not None
        assert self._lease is not None
        assert self._stored is not None
        try:
            if self._error is None:
                try:
                    self._drain(self._writer)
                except Exception as exc:
                    self._error = exc
            if self._error is not None:
                status = FAILED
            if status is None:  # a changed dataset: leave the evaluation as it was
                self.storage.release(
                    self.target.experiment,
                    self.evaluation,
                    self._lease,
                    self._stored.previous or INTERRUPTED,
                )
                return
            if status in (COMPLETED, PARTIAL):
                self._settle_custom_metrics()
            self._writer.finish(status, self.aggregator.counts, self.aggregator.summary)
        finally:
            self._writer.close()
            self._writer = None  # the store thread writes nothing more

    def _settle_custom_metrics(self) -> None:
        """Custom metrics need every value: stream them from the store now."""
        deferred = self.aggregator.deferred()
        if not deferred:
            return
        assert self.storage is not None
        wanted = {name for name, _ in deferred}
        values: dict[str, list[Any]] = defaultdict(list)
        for record in self.storage.records(
            self.target.experiment,
            self.evaluation,
            stop=self.samples,
            successes_only=True,
        ):
            for score in record.scores:
                if score.name in wanted:
                    values[score.name].append(score.value)
        errors = self.aggregator.counts.errors
        for name, accumulator in deferred:
            accumulator.value = accumulator.metric(values[name], errors)
