"""A line index kept beside its JSON-lines file (``FILE.index``), so that opening a big
file again reads only the lines appended since, not every line.

The saved index is a cache: it is used only while the file still holds exactly the
bytes it indexed (their CRC-32 is checked, a read at disk speed, where indexing
parses every line), and anything wrong with it (missing, unreadable, of another
format, of a file since edited or replaced) makes the file be read whole instead,
as if there were none. It is written to a temporary file and renamed over
the old one, so a crash or a full disk never leaves half of one.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import urllib.parse
import zlib
from typing import BinaryIO

import attrs

FORMAT = 1
"""The layout of a saved index; one of another layout is not read."""

CHUNK = 1 << 20
"""Bytes read at a time while checking a file against its saved index."""

SAVE_FROM_LINES = 50_000
"""A file of fewer lines is indexed afresh each time (it takes a fraction of a second)."""


@attrs.frozen(repr=False)
class Indexed:
    """How far a saved index reaches into its file."""

    end: int
    tail: bytes
    lines: int
    crc: int
    """The CRC-32 of the file's first ``end`` bytes."""


def saved_path(path: str) -> str:
    return path + ".index"


def _matches(handle: BinaryIO, indexed: Indexed) -> bool:
    """Whether the file still begins with the bytes the index was made of."""
    if handle.seek(0, os.SEEK_END) < indexed.end:
        return False
    handle.seek(0)
    crc, left = 0, indexed.end
    while left:
        chunk = handle.read(min(CHUNK, left))
        if not chunk:
            return False
        crc, left = zlib.crc32(chunk, crc), left - len(chunk)
    return crc == indexed.crc


def load(path: str, into: sqlite3.Connection) -> Indexed | None:
    """Copy the saved index of ``path`` into ``into`` (replacing what it holds) if it
    still fits the file; ``None`` (``into`` unchanged) when there is none to use."""
    uri = f"file:{urllib.parse.quote(saved_path(path))}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as saved:
            row = saved.execute(
                "SELECT format, end_offset, tail, lines, crc FROM indexed"
            ).fetchone()
            if row is None or row[0] != FORMAT:
                return None
            indexed = Indexed(int(row[1]), bytes(row[2]), int(row[3]), int(row[4]))
            with open(path, "rb") as handle:
                if not _matches(handle, indexed):
                    return None
            saved.backup(into)
    except (OSError, sqlite3.Error, TypeError, ValueError):
        return None
    return indexed


def save(path: str, db: sqlite3.Connection, indexed: Indexed) -> bool:
    """Save ``db`` (a line index reaching as far as ``indexed`` says) beside ``path``;
    ``False`` when it could not be written (nothing is lost: it is a cache)."""
    target = saved_path(path)
    temporary = f"{target}.{os.getpid()}.tmp"
    try:
        with contextlib.closing(sqlite3.connect(temporary, isolation_level=None)) as copy:
            db.backup(copy)
            copy.execute(
                "CREATE TABLE IF NOT EXISTS indexed "
                "(format INTEGER, end_offset INTEGER, tail BLOB, lines INTEGER, crc INTEGER)"
            )
            copy.execute("DELETE FROM indexed")
            copy.execute(
                "INSERT INTO indexed VALUES (?, ?, ?, ?, ?)",
                (FORMAT, indexed.end, indexed.tail, indexed.lines, indexed.crc),
            )
        os.replace(temporary, target)
    except (OSError, sqlite3.Error):
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return False
    return True
