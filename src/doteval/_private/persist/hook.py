"""Persisting a run: the ``RunHook`` that hands records to a store thread.

The run's single consumer calls :meth:`PersistHook.record` for every record; that
only appends to a queue. The store thread (:mod:`.store_thread`), started when the
hook is entered and joined before it exits, does all the store's I/O: it takes the
lease, reads what a resumed run skips, writes the queue in batches (every
``BATCH_SIZE`` records or ``FLUSH_INTERVAL`` seconds) and keeps the lease's
heartbeat. Leaving the hook, also on cancellation or Ctrl-C, flushes what finished
and marks how the run ended.
"""

from __future__ import annotations

import contextlib
import sys
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import anyio
import attrs

from doteval._private.concurrency.ticker import Ticker
from doteval._private.errors import (
    DatasetChangedError,
    MetricError,
    StorageError,
    StorageWarning,
)
from doteval._private.exception_groups import leaf_errors
from doteval._private.persist.metadata import run_metadata
from doteval._private.persist.resume import StoredCursor
from doteval._private.persist.settle import settle
from doteval._private.persist.store_thread import Call, StoreThread
from doteval._private.results.aggregate import Aggregator, StaleSnapshot, Tally
from doteval._private.results.records import Record
from doteval._private.storage.lease import HEARTBEAT_INTERVAL, Lease, activate, deactivate
from doteval._private.storage.naming import check_evaluation_name, check_experiment_name
from doteval._private.storage.policy import Store
from doteval._private.storage.protocol import Storage, StoredState, Writer
from doteval._private.storage.registry import open_storage
from doteval._private.storage.row_hash import canonical_row_hash, row_hasher
from doteval._private.storage.shard import Shard
from doteval._private.storage.status import COMPLETED, FAILED, INTERRUPTED, PARTIAL

BATCH_SIZE = 1000
FLUSH_INTERVAL = 0.2
"""Seconds a finished record may wait in memory before the store thread writes it, and
before the run waits for a store that is behind: a SIGKILL loses at most the records
of the last ``FLUSH_INTERVAL`` and those of the write in progress."""

MAX_PENDING = 20 * BATCH_SIZE
"""Records waiting for the store thread before the run waits for it: the store, not
memory, absorbs a run that finishes items faster than they can be written."""


@attrs.frozen(repr=False)
class _Mark:
    """Queued after the records it covers: the totals of the stored successes once they
    are written, taken on the event loop from the run's own totals (see
    :meth:`PersistHook.mark`)."""

    seed: dict[str, Any]


@attrs.frozen(repr=False)
class StoreTarget:
    """Where a run is persisted; the evaluation's identity is the plan's ``evaluation``."""

    url: str | Storage | Store | None
    experiment: str = attrs.field(validator=lambda _, __, name: check_experiment_name(name))
    announce: bool = False
    options: Mapping[str, Any] = attrs.field(factory=dict)
    shard: Shard | None = None
    """The shard of the evaluation this run stores (``None``: all of it)."""
    keep_records: bool = True
    """``False``: a store that would keep the records in memory (``memory://``) keeps
    only what resuming needs (see the writer's optional ``drop_records``)."""


def ended_by(error: BaseException | None) -> str | None:
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


@attrs.define(eq=False, repr=False)
class PersistHook:
    """Stores every record of a run, resuming what the store already holds.

    Each record is stored with the hash of its row; ``stored_row`` makes a row as
    the dataset gives it into the row its record keeps (bound to the columns), so a
    resumed run can hash it and check that the dataset did not change.
    """

    target: StoreTarget
    evaluation: str
    aggregator: Aggregator
    stored_row: Callable[[Any], Any]
    samples: int | None
    cut_short: bool = False
    """Set by the producer when ``samples`` stopped the run before the dataset ended."""
    stopped_early: str | None = None
    """Why the run stopped itself (``stop_after_errors``): it ends ``failed``."""
    status: str | None = None
    """How the run ended, as stored (set when the hook exits)."""
    aliases: tuple[str, ...] = ()
    """Names the evaluation may be stored under already; the first found is resumed."""
    rows: int | None = None
    """Set by the producer once it read the dataset to its end (or to ``samples``): how
    many rows it has."""
    storage: Store | None = None
    cursor: StoredCursor | None = None
    _thread: StoreThread = attrs.field(init=False)
    _lease: Lease | None = None
    _stored: StoredState | None = None
    _writer: Writer | None = None
    _pending: deque[Record | _Mark] = attrs.field(factory=deque)
    _error: BaseException | None = None
    _replaced: str | None = None
    _warned: bool = False
    _seed: Aggregator | None = None
    """The totals of the stored successes, kept by the store thread when the run does not
    mark its records (see :meth:`mark`)."""
    _marking: bool = False
    """The run's own totals are those of the stored successes (it groups nothing and
    started from them): the event loop queues them as marks, and the store thread keeps
    no totals of its own, so it only encodes and writes."""
    _marks: int = 0
    _unmarked: int = 0
    _errors: Tally = attrs.field(factory=Tally)
    """The error records the run's totals count and the stored successes' do not."""
    _follows_marks: bool = False
    """On the store thread: it writes records up to the last mark only, until the run
    stops marking; then it goes on from that mark with totals of its own."""
    _marks_taken: int = 0
    _last_mark: dict[str, Any] | None = None
    _written: Tally = attrs.field(factory=Tally)
    """The counts of what is stored: the totals a write stores count exactly the records
    stored with them, so stored totals never run ahead of stored records."""
    _room: Call | None = None
    _next_beat: float = 0.0
    _caught_up_at: float = attrs.field(factory=time.monotonic)
    """When the store thread last had nothing older pending: the records waiting now
    came after it, so none has waited for the store longer than since then."""
    _hash: Callable[[Any], int] = canonical_row_hash
    """How this evaluation's rows are hashed (its stored scheme)."""

    def __attrs_post_init__(self) -> None:
        self._thread = StoreThread(
            f"doteval-store-{self.target.experiment}", self._flush, FLUSH_INTERVAL
        )

    async def __aenter__(self) -> PersistHook:
        self._thread.start()
        try:
            # Shielded: the store thread must finish this call before it can be joined.
            with anyio.CancelScope(shield=True):
                await self._thread.call(self._open)
        except BaseException:
            self._thread.stop()
            raise
        assert self._stored is not None
        if self._stored.extent:
            hash_row, stored_row = self._hash, self.stored_row  # looked up once, not per row
            self.cursor = StoredCursor(
                self._fetch,
                lambda row: hash_row(stored_row(row)),
                self.target.experiment,
                self.evaluation,
            )
        if self.target.announce:
            assert self.storage is not None
            print(
                f"doteval: experiment {self.target.experiment} ({self.storage.url})",
                file=sys.stderr,
            )
        return self

    def _fetch(self, start: int, count: int) -> Call:
        assert self._stored is not None
        return self._thread.submit(self._stored.fetch, start, self.samples, count)

    def _open(self) -> None:
        """Open the store, take the lease, and pick up the totals of stored successes."""
        self.storage = storage = open_storage(self.target.url)
        experiment = self.target.experiment
        self.evaluation = evaluation = self._stored_name(storage, experiment)
        if self.aggregator.epochs > 1 and not getattr(storage.backend, "stores_epochs", False):
            raise StorageError(
                f"{storage.url} keeps one record per item, so it cannot store a run with "
                f"epochs={self.aggregator.epochs}; use a sqlite://, jsonl://, postgresql:// "
                f"or memory:// store"
            )
        self._lease = lease = Lease.mine(self.target.shard)
        activate(lease)  # before it is stored: a run of this process must see it alive
        try:
            self._stored = stored = storage.begin(
                experiment, evaluation, lease, run_metadata(self.target.options)
            )
        except BaseException:
            deactivate(lease)
            raise
        try:
            self._hash = row_hasher(stored.row_hash)
            self._writer = storage.writer(experiment, evaluation, self._lease)
            drop = getattr(self._writer, "drop_records", None)
            if drop is not None and not self.target.keep_records:
                drop()
                # Non-incremental metrics cannot be settled from records not kept: a fresh
                # run keeps their values in memory instead, as a run with no store does.
                self.aggregator.defer_custom = bool(stored.extent)
            self._next_beat = time.monotonic() + HEARTBEAT_INTERVAL
            if self._writer.keeps_seed:
                self._seed = self.aggregator.like(defer_custom=True)
                self._continue(self._seed, stored.seed if stored.extent else None, None)
            if stored.extent:
                whole = self.samples is None or stored.extent <= self.samples
                self._continue(self.aggregator, stored.seed if whole else None, self.samples)
            self._written.restart_from(self.aggregator.counts)
            if stored.extent:
                self._count_earlier_attempts(storage, experiment, evaluation)
            self._marking = self._follows_marks = (
                self._seed is not None
                and not self.aggregator.groups
                and self._seed.snapshot() == self.aggregator.snapshot()
            )
        except BaseException:
            if self._writer is not None:
                self._writer.close()
            storage.release(experiment, evaluation, lease, stored.previous or INTERRUPTED)
            deactivate(lease)
            raise

    def _stored_name(self, storage: Store, experiment: str) -> str:
        """The evaluation's name, or the alias it is stored under already."""
        name = check_evaluation_name(self.evaluation)
        if self.aliases and storage.evaluation(experiment, name) is None:
            for alias in self.aliases:
                if storage.evaluation(experiment, alias) is not None:
                    return alias
        return name

    def _count_earlier_attempts(self, storage: Store, experiment: str, evaluation: str) -> None:
        """The stored totals go on counting every attempt of every run: an error record a
        resumed run replaces takes its attempts' count out of the records, not the totals."""
        info = storage.evaluation(experiment, evaluation)
        if info is not None and info.counts is not None:
            self._written.attempts = max(self._written.attempts, info.counts.attempts)
            self._written.retried = max(self._written.retried, info.counts.retried)

    def _continue(
        self, aggregator: Aggregator, seed: Mapping[str, Any] | None, stop: int | None
    ) -> None:
        """Seed ``aggregator`` with what is stored: from the stored totals when they fit
        this run, else by reading the stored successes back."""
        if seed is not None:
            try:
                aggregator.resume_from(seed)  # checks the snapshot before changing anything
                return
            except StaleSnapshot:
                pass
        if self._stored is not None and self._stored.extent:
            self._replay(aggregator, stop)

    def _replay(self, aggregator: Aggregator, stop: int | None) -> None:
        assert self.storage is not None
        for record in self._mine(stop, successes_only=True):
            aggregator.add(record)

    def _mine(self, stop: int | None, *, successes_only: bool = False) -> Iterator[Record]:
        """The stored records of this run's share of the evaluation."""
        assert self.storage is not None
        shard = self.target.shard
        for record in self.storage.records(
            self.target.experiment, self.evaluation, stop=stop, successes_only=successes_only
        ):
            if shard is None or shard.holds(record.item_id):
                yield record

    def _waited(self) -> float:
        """At most the seconds the oldest record not yet handed to the store has waited
        for it (a record's own timestamp would also count its time in the run's buffers,
        which a wide window makes long, so the run would wait on every record)."""
        if not self._pending:
            return 0.0
        return time.monotonic() - self._caught_up_at

    @property
    def backlogged(self) -> bool:
        """The store is behind: too many records wait for it, or one waited too long."""
        return len(self._pending) >= MAX_PENDING or self._waited() > FLUSH_INTERVAL

    def _has_room(self) -> bool:
        return len(self._pending) < MAX_PENDING // 2 and self._waited() <= FLUSH_INTERVAL / 2

    async def wait_for_room(self) -> None:
        """Wait until the store thread has caught up: half the records written, and none
        waiting for long."""
        room = Call.of(lambda: None)
        self._room = room  # set before the check below, so the thread cannot miss it
        self.mark()  # the store thread writes what is marked
        self._thread.wake()
        if not self._has_room() and self._error is None:
            await room.result()
        self._room = None

    def record(self, record: Record) -> None:
        self._pending.append(record)
        if self._marking and record.error is not None:
            self._errors.add(record)
            if record.scores:  # counted in the run's totals, not in the stored successes'
                self._marking = False
        if self._marking:
            self._unmarked += 1
            if self._unmarked >= BATCH_SIZE:
                self.mark()
                self._thread.wake()
        elif len(self._pending) >= BATCH_SIZE:
            self._thread.wake()
        if self._error is not None:
            raise self._error
        if self._replaced is not None and not self._warned:
            self._warn()

    def mark(self) -> bool:
        """Queue the totals of the successes so far after the records not yet marked;
        whether it did. They are the run's own totals, less its errors' counts: the store
        thread writes them with the records they cover instead of adding every record
        to totals of its own."""
        if not (self._marking and self._unmarked):
            return False
        self._pending.append(_Mark(self.aggregator.snapshot(leave_out=self._errors)))
        self._marks += 1  # after the append: a counted mark is in the queue
        self._unmarked = 0
        return True

    def wake(self) -> None:
        """Have the store thread write what is pending now."""
        self._thread.wake()

    def ticker(self) -> MarkTicker | None:
        """The task that marks records arriving too slowly to fill a batch (while the run
        marks them)."""
        return MarkTicker(self) if self._marking else None

    def _warn(self) -> None:
        self._warned = True
        warnings.warn(
            f"{self.evaluation}: a value that JSON cannot hold ({self._replaced}) "
            f"was stored as its repr; later ones are stored the same way without warning",
            StorageWarning,
            stacklevel=3,
        )

    def _flush(self) -> None:
        """On the store thread, at each wake-up: write what is pending, or keep the lease
        alive; a failure stops the run at its next record."""
        writer = self._writer
        if writer is None or self._error is not None:
            return
        try:
            wrote = bool(self._pending) and self._drain(writer)
            if not self._pending:
                self._caught_up_at = time.monotonic()
            if wrote:
                self._next_beat = time.monotonic() + HEARTBEAT_INTERVAL
            elif time.monotonic() >= self._next_beat:  # also while records wait for a mark
                writer.heartbeat()
                self._next_beat = time.monotonic() + HEARTBEAT_INTERVAL
        except Exception as exc:  # raised in the run by record() or __aexit__
            self._error = exc
            room, self._room = self._room, None
            if room is not None:
                room.run()  # the run must not wait for a writer that stopped

    def _drain(self, writer: Writer) -> bool:
        """Write what is pending (what is marked, while the run marks); whether anything
        was written."""
        wrote = False
        while True:
            taken_at = time.monotonic()  # what comes later waits from here
            batch, seed, full = self._batch()
            if not full:
                self._caught_up_at = taken_at
            if batch:
                written = self._counted(batch)
                replaced = writer.write(batch, written.counts, seed)
                wrote = True
                self._written = written
                if replaced is not None and self._replaced is None:
                    self._replaced = replaced
            room = self._room
            if room is not None and self._has_room():
                self._room = None
                room.run()  # the run may take records again
            if not batch:
                return wrote

    def _batch(self) -> tuple[list[tuple[Record, int]], dict[str, Any] | None, bool]:
        """The next records to write, each with its row's hash; the totals of the stored
        successes once they are written; and whether the batch is full (more wait)."""
        pending, seed, limit = self._pending, self._seed, 5 * BATCH_SIZE
        batch: list[tuple[Record, int]] = []
        marked: dict[str, Any] | None = None
        while True:
            if self._follows_marks and self._marks_taken == self._marks:
                if self._marking:  # read after the count: no mark comes once it is False
                    return batch, marked, False  # the rest waits for its mark
                self._follow_no_marks()
            if not self._follows_marks and len(batch) >= limit:
                break
            try:
                entry = pending.popleft()
            except IndexError:
                break
            if isinstance(entry, _Mark):
                if self._follows_marks:
                    self._marks_taken += 1
                    marked = self._last_mark = entry.seed
                    if len(batch) >= limit:
                        return batch, marked, True
                continue  # a mark queued as the run stopped marking: the totals agree
            batch.append((entry, self._hash(entry.row)))
            if seed is not None and not self._follows_marks and entry.error is None:
                seed.add(entry)
        full = len(batch) >= limit
        return batch, (None if seed is None else seed.snapshot()), full

    def _follow_no_marks(self) -> None:
        """The run stopped marking: keep the totals of the stored successes here, from the
        last mark on (the records after it are still queued)."""
        self._follows_marks = False
        if self._seed is not None and self._last_mark is not None:
            self._seed.resume_from(self._last_mark)

    def _counted(self, batch: list[tuple[Record, int]]) -> Tally:
        """The stored counts once ``batch`` is written (kept only if the write succeeds)."""
        written = attrs.evolve(self._written)
        for record, _ in batch:
            written.add(record)
        return written

    @property
    def stored(self) -> int:
        """Records of the evaluation the store holds, counting this run's written ones."""
        return self._written.total

    def _finished_status(self, status: str | None) -> str | None:
        """A run that ended by itself is ``failed`` when it stopped early or when every
        item it holds errored (nothing was measured), else completed or partial."""
        if status != COMPLETED:
            return status
        written = self._written
        if self.stopped_early is not None or (written.total and written.errors == written.total):
            return FAILED
        return PARTIAL if self.cut_short else COMPLETED

    async def __aexit__(self, *exc_info: Any) -> None:
        status = ended_by(exc_info[1])
        # The last records' mark; should taking it fail, the store thread totals them
        # itself, and fails the same way, with the error stored as the run's.
        with contextlib.suppress(Exception):
            self.mark()
        self._marking = False
        closed = False
        try:
            with anyio.CancelScope(shield=True):
                await self._thread.call(self._close, status)
            closed = True
        finally:
            assert self._lease is not None
            deactivate(self._lease)
            # Interrupted again while closing, the thread still needs the event loop to
            # report back: joining it here would deadlock, so it finishes on its own.
            self._thread.stop(join=closed)
        if self._replaced is not None and not self._warned:
            self._warn()
        ended = exc_info[1]
        if self._error is not None and (ended is None or self._error in leaf_errors(ended)):
            raise self._stopped_by(self._error) from None

    def _stopped_by(self, error: BaseException) -> BaseException:
        """The store's failure, with what it cost: a store error says how many evaluated
        items were not stored, and how to get them back."""
        if not isinstance(error, StorageError):
            return error
        lost = self.aggregator.counts.total - self._written.total
        if not lost:
            return error
        return StorageError(
            f"{error}; {lost:,} evaluated item{'s' if lost != 1 else ''} of this run "
            f"{'were' if lost != 1 else 'was'} not stored and will run again when you "
            f"resume (experiment={self.target.experiment!r})"
        )

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
            status = FAILED if self._error is not None else self._finished_status(status)
            self.status = status
            if status is None:  # a changed dataset: leave the evaluation as it was
                self.storage.release(
                    self.target.experiment,
                    self.evaluation,
                    self._lease,
                    self._stored.previous or INTERRUPTED,
                )
                return
            summary = None  # unless it describes exactly what is stored
            try:
                if status in (COMPLETED, PARTIAL, FAILED) and self._error is None:
                    self._settle_custom_metrics()
                if self._error is None:
                    summary = self.aggregator.summary
            except MetricError as exc:
                self._error = exc
                self.status = status = FAILED
            ended: dict[str, Any] = {}  # what the backend's writer takes beyond the core
            if getattr(self._writer, "keeps_estimates", False):
                ended["estimates"] = None if summary is None else self.aggregator.estimates
            if self.target.shard is not None:
                ended["expected"] = self._expected(status)
            try:
                self._writer.finish(status, self._written.counts, summary, **ended)
            except Exception:
                if self._error is None:
                    raise
                # The store failed already; finishing fails the same way, and the first
                # error is the one that says why.
            expected = ended.get("expected")
            if expected is not None and summary is not None and self._error is None:
                settle(
                    self.storage,
                    self.target.experiment,
                    self.evaluation,
                    self.aggregator,
                    status,
                    expected,
                    self.samples,
                )
        finally:
            self._writer.close()
            self._writer = None  # the store thread writes nothing more

    def _expected(self, status: str) -> int | None:
        """The item-epochs of the whole evaluation, when this run read the dataset to its
        end (or to ``samples``)."""
        if status not in (COMPLETED, PARTIAL) or self.rows is None:
            return None
        return self.rows * self.aggregator.epochs

    def _settle_custom_metrics(self) -> None:
        """Non-incremental metrics need every value: read the records back from the store,
        grouped and reduced as the run did, and take those metrics' values from them."""
        deferred = self.aggregator.deferred()
        if not deferred:
            return
        assert self.storage is not None
        replay = self.aggregator.like()
        for record in self._mine(self.samples):
            replay.add(record)
        summary, estimates = replay.summary, replay.estimates
        for score, metric, accumulator in deferred:
            accumulator.value = summary.get(score, {}).get(metric)
            if accumulator.metric.bootstrap:
                accumulator.estimate = estimates.get(score, {}).get(metric)


@attrs.define(repr=False)
class MarkTicker(Ticker):
    """Marks the records that came since the last mark every half :data:`FLUSH_INTERVAL`
    and wakes the store thread for them: records that trickle in are written as soon as
    those that fill a batch."""

    hook: PersistHook

    async def tick(self) -> None:
        while True:
            await anyio.sleep(FLUSH_INTERVAL / 2)
            if self.hook.mark():
                self.hook.wake()
