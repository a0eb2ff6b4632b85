"""Noticing a store's file deleted or replaced under a running writer.

An open handle (a SQLite connection, an appended JSON-lines file) goes on writing to a
file no path names any more, so without this check a run would count records as
stored where nobody can ever read them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import attrs

from doteval._private.errors import StorageError


def _identity(path: str) -> tuple[int, int] | None:
    """The file ``path`` names now (device and inode), or ``None`` if it is gone."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def _deleted(path: str) -> StorageError:
    return StorageError(
        f"{path} was deleted or replaced while this run was writing to it, so nothing "
        f"more could be stored"
    )


@attrs.define(eq=False, repr=False)
class WatchedFile:
    """The file a writer opened, told apart from whatever its path names later."""

    path: str
    _opened: tuple[int, int] | None = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._opened = _identity(self.path)

    def _verify(self) -> None:
        if _identity(self.path) != self._opened:
            raise _deleted(self.path)

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Around one write: the file must be the one opened both before and after it (a
        deletion racing the write leaves it written nowhere), and a store file missing
        part-way is that deletion, however far the write got."""
        self._verify()
        try:
            yield
        except FileNotFoundError as exc:
            raise _deleted(str(exc.filename or self.path)) from None
        except StorageError:
            self._verify()
            raise
        self._verify()
