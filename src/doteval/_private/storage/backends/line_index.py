"""An index of a JSON-lines record file by item id, sorted on disk rather than in memory;
and the files of an evaluation run in shards, read as one.

The file holds records in the order they finished, and a later line for an item
supersedes earlier ones; resuming and reading need them by item id. A private
temporary SQLite database (deleted when closed, its cache a few MB) does that
sort, so memory stays flat however many items the file holds. It is refreshed
by reading only what was appended since; a writer notes the lines it appends, and
saves the index beside the file when it closes (see :mod:`.saved_index`), so the
next process to open a big file reads only what was appended after that.
"""

from __future__ import annotations

import heapq
import itertools
import json
import os
import re
import sqlite3
import threading
import warnings
import zlib
from collections.abc import Iterator
from typing import BinaryIO

import attrs

from doteval._private.errors import StorageError, StorageWarning
from doteval._private.storage.backends import saved_index
from doteval._private.storage.protocol import StoredItem

_SCHEMA = """
CREATE TABLE lines (
    item_id INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    row_hash INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    PRIMARY KEY (item_id, epoch)
) WITHOUT ROWID
"""
_LEADING_FIELDS = re.compile(
    rb'\{"item_id":(\d+),"row_hash":(-?\d+),"ok":(true|false),(?:"epoch":(\d+),)?'
)
"""The fields a writer puts first; lines written before epochs have none (epoch 0)."""
_NO_STOP = 1 << 62
PAGE_SIZE = 1_000
"""Line offsets read per query while streaming records."""
SCAN_BYTES = 1 << 22
"""Bytes of lines read, and indexed in one transaction, at a time."""


@attrs.define(eq=False, repr=False)
class LineIndex:
    """Per item id: where its effective line starts, its row hash and whether it succeeded."""

    path: str
    _db: sqlite3.Connection
    _lock: threading.Lock = attrs.field(factory=threading.Lock)
    _end: int = 0
    _tail: bytes = b""
    """The last bytes indexed: if they changed, the file was replaced and is read afresh."""
    _lines: int = 0
    _torn_at: int = -1
    """The offset of a truncated last line already warned about."""
    _saved_lines: int = 0
    """Lines the index saved beside the file covers (0: none saved)."""
    _crc: int = 0
    """The CRC-32 of the bytes indexed (saved with the index, to check the file by)."""

    @classmethod
    def open(cls, path: str) -> LineIndex:
        db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode = OFF")  # a scratch index: rebuilt, never recovered
        db.execute(_SCHEMA)
        index = cls(path, db)
        saved = saved_index.load(path, db)
        if saved is not None:
            index._end, index._tail, index._lines = saved.end, saved.tail, saved.lines
            index._saved_lines, index._crc = saved.lines, saved.crc
        index.refresh()
        if index._lines - index._saved_lines >= saved_index.SAVE_FROM_LINES:
            index.save()  # read the long way once: the next process need not
        return index

    @property
    def end(self) -> int:
        """Where the last complete line indexed ends."""
        return self._end

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def refresh(self) -> None:
        """Index the lines appended since the last refresh."""
        with self._lock:
            try:
                handle = open(self.path, "rb")  # noqa: SIM115 - closed below
            except FileNotFoundError:
                self._reset()
                return
            with handle:
                if not self._continues(handle):
                    self._reset()
                if handle.seek(0, os.SEEK_END) > self._end:
                    self._scan(handle)

    def note(self, start: int, entries: list[tuple[int, int, int, int, bool]], data: bytes) -> None:
        """``data`` was just appended at ``start``, one line per entry ``(item id, epoch,
        offset, row hash, ok)``: indexed without reading it back, unless the index does
        not end where it begins (a refresh read it already, or has lines before it to
        read first)."""
        with self._lock:
            if start == self._end and entries:
                self._add(entries, data)

    def save(self) -> None:
        """Save the index beside its file if that lets a later process skip reading many
        lines (a failure is no loss: it is read the long way then)."""
        with self._lock:
            if self._lines < saved_index.SAVE_FROM_LINES or self._lines == self._saved_lines:
                return
            indexed = saved_index.Indexed(self._end, self._tail, self._lines, self._crc)
            if saved_index.save(self.path, self._db, indexed):
                self._saved_lines = self._lines

    def _continues(self, handle: BinaryIO) -> bool:
        if handle.seek(0, os.SEEK_END) < self._end:
            return False
        handle.seek(self._end - len(self._tail))
        return handle.read(len(self._tail)) == self._tail

    def _reset(self) -> None:
        self._db.execute("DELETE FROM lines")
        self._end, self._tail, self._lines, self._torn_at = 0, b"", 0, -1
        self._saved_lines = self._crc = 0

    def _scan(self, handle: BinaryIO) -> None:
        handle.seek(self._end)
        while lines := handle.readlines(SCAN_BYTES):
            torn = not lines[-1].endswith(b"\n")
            if torn:
                lines.pop()
            batch: list[tuple[int, int, int, int, bool]] = []
            end, match = self._end, _LEADING_FIELDS.match
            for line in lines:
                # The writer starts every line with these fields: matching just them is
                # five times faster than parsing the line; other lines are parsed whole.
                found = match(line)
                if found is None:
                    batch.append(self._parse(line, end, self._lines + len(batch) + 1))
                else:
                    epoch = int(found[4]) if found[4] is not None else 0
                    batch.append((int(found[1]), epoch, end, int(found[2]), found[3] == b"true"))
                end += len(line)
            if lines:
                self._add(batch, b"".join(lines))
            if torn:
                self._torn(handle.tell() - self._end)
                return

    def _add(self, entries: list[tuple[int, int, int, int, bool]], data: bytes) -> None:
        """Index ``data``, the lines right after the indexed ones, one per entry."""
        with self._db:  # one transaction; a later line replaces its item's earlier one
            self._db.executemany("INSERT OR REPLACE INTO lines VALUES (?, ?, ?, ?, ?)", entries)
        self._end, self._tail = self._end + len(data), data[-64:]
        self._lines += len(entries)
        self._crc = zlib.crc32(data, self._crc)

    def _parse(self, line: bytes, offset: int, number: int) -> tuple[int, int, int, int, bool]:
        try:
            document = json.loads(line)
            epoch = document.get("epoch") or 0
            return document["item_id"], epoch, offset, document["row_hash"], document["ok"]
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageError(
                f"{self.path}: line {number} is not a doteval record ({exc}); remove "
                f"or repair that line"
            ) from None

    def _torn(self, size: int) -> None:
        if self._torn_at != self._end:
            self._torn_at = self._end
            warnings.warn(
                f"{self.path}: ignoring a truncated last line (line {self._lines + 1}, "
                f"{size} bytes): the run writing it stopped mid-write (killed, or out of "
                f"disk space)",
                StorageWarning,
                stacklevel=5,
            )

    def count(self) -> int:
        """How many items have a line."""
        with self._lock:
            (found,) = self._db.execute("SELECT count(*) FROM lines").fetchone()
        return int(found)

    def errors(self) -> int:
        """How many items have an error as their line."""
        with self._lock:
            (found,) = self._db.execute("SELECT count(*) FROM lines WHERE NOT ok").fetchone()
        return int(found)

    def extent(self) -> int:
        """One more than the highest item id (0 when there are none)."""
        with self._lock:
            (highest,) = self._db.execute("SELECT max(item_id) FROM lines").fetchone()
        return 0 if highest is None else highest + 1

    def stored(self, start: int, stop: int | None, count: int) -> list[StoredItem]:
        """Up to ``count`` entries ``(item id, row hash, ok, epoch)`` with ``start <= id <
        stop``, by item and epoch."""
        with self._lock:
            found = self._db.execute(
                "SELECT item_id, row_hash, ok, epoch FROM lines WHERE item_id >= ? "
                "AND item_id < ? ORDER BY item_id, epoch LIMIT ?",
                (start, _NO_STOP if stop is None else stop, count),
            ).fetchall()
        return [(item_id, hashed, bool(ok), epoch) for item_id, hashed, ok, epoch in found]

    def entries(self, start: int, stop: int | None) -> Iterator[tuple[int, int, int, int, bool]]:
        """``(item id, epoch, offset, row hash, ok)`` of the effective line of every item in
        ``[start, stop)``, by item and epoch, a page at a time."""
        query = (
            "SELECT item_id, epoch, offset, row_hash, ok FROM lines "
            "WHERE (item_id, epoch) >= (?, ?) AND item_id < ? ORDER BY item_id, epoch LIMIT ?"
        )
        stop = _NO_STOP if stop is None else stop
        epoch = 0
        while True:
            with self._lock:
                page = self._db.execute(query, (start, epoch, stop, PAGE_SIZE)).fetchall()
            for item_id, item_epoch, offset, hashed, ok in page:
                yield item_id, item_epoch, offset, hashed, bool(ok)
            if len(page) < PAGE_SIZE:
                return
            start, epoch = page[-1][0], page[-1][1] + 1

    def offsets(self, start: int, stop: int | None, ok: bool | None) -> Iterator[int]:
        """Where the effective lines of the items in ``[start, stop)`` start, by item and
        epoch; ``ok`` keeps only successes (``True``) or errors (``False``)."""
        query = (
            "SELECT item_id, epoch, offset FROM lines WHERE (item_id, epoch) >= (?, ?) "
            "AND item_id < ?"
        )
        if ok is not None:
            query += f" AND ok = {int(ok)}"
        query += " ORDER BY item_id, epoch LIMIT ?"
        stop = _NO_STOP if stop is None else stop
        epoch = 0
        while True:
            with self._lock:  # a page at a time: no query stays open between yields
                page = self._db.execute(query, (start, epoch, stop, PAGE_SIZE)).fetchall()
            for _, _, offset in page:
                yield offset
            if len(page) < PAGE_SIZE:
                return
            start, epoch = page[-1][0], page[-1][1] + 1


@attrs.define(eq=False, repr=False)
class MergedIndex:
    """The record files of one evaluation run in shards, read as one file would be.

    Each shard appends to a file of its own. An item stored in several files (it
    failed in one shard's run and ran again in a shard of another count, or in a run
    of the whole) has as its effective line a success over an error, and between two
    of a kind the one in the file later in ``indexes`` (the files are kept in the
    order their runs last began). One file is read as it is.
    """

    indexes: list[LineIndex]

    def _merged(
        self, start: int, stop: int | None
    ) -> Iterator[tuple[int, int, int, int, int, bool]]:
        """``(item id, epoch, file, offset, row hash, ok)`` of every effective line."""

        def ranked(rank: int, index: LineIndex) -> Iterator[tuple[int, int, int, int, int, bool]]:
            for item, epoch, offset, hashed, ok in index.entries(start, stop):
                yield item, epoch, rank, offset, hashed, ok

        streams = [ranked(rank, index) for rank, index in enumerate(self.indexes)]
        for _, group in itertools.groupby(heapq.merge(*streams), key=lambda entry: entry[:2]):
            yield max(group, key=lambda entry: (entry[5], entry[2]))

    def extent(self) -> int:
        """One more than the highest item id in any file (0 when there are none)."""
        return max((index.extent() for index in self.indexes), default=0)

    def tally(self) -> tuple[int, int]:
        """How many items have a line, and how many of those are errors."""
        if len(self.indexes) == 1:
            return self.indexes[0].count(), self.indexes[0].errors()
        total = errors = 0
        for entry in self._merged(0, None):
            total += 1
            errors += not entry[5]
        return total, errors

    def stored(self, start: int, stop: int | None, count: int) -> list[StoredItem]:
        """As :meth:`LineIndex.stored`, over every file."""
        if len(self.indexes) == 1:
            return self.indexes[0].stored(start, stop, count)
        return [
            (item, hashed, ok, epoch)
            for item, epoch, _, _, hashed, ok in itertools.islice(self._merged(start, stop), count)
        ]

    def offsets(self, start: int, stop: int | None, ok: bool | None) -> Iterator[tuple[int, int]]:
        """As :meth:`LineIndex.offsets`, with the position in ``indexes`` of each line's file."""
        if len(self.indexes) == 1:
            for offset in self.indexes[0].offsets(start, stop, ok):
                yield 0, offset
            return
        for _, _, rank, offset, _, succeeded in self._merged(start, stop):
            if ok is None or succeeded == ok:
                yield rank, offset
