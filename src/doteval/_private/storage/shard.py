"""Shards: which items of an evaluation one of ``N`` processes runs.

Each item id has a stable 64-bit key, a BLAKE2b hash of the id (the same on every
machine and in every process, unlike Python's ``hash``); shard ``I`` of ``N`` holds
the items whose key falls in the ``I``-th of ``N`` equal ranges of the key space. So
the shares are balanced whatever the dataset's order, all epochs of an item stay in
one shard, and two shards overlap exactly when their ranges do: the shards of one
``N`` never do, shard ``0/2`` overlaps ``0/4`` and ``1/4``, and a run without a
shard is the whole range.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Any

import attrs

_KEY_BITS = 64
_PERSON = b"doteval.shard"
"""BLAKE2b's personalisation: these keys are doteval's shard keys and nothing else's."""
_FORM = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
FORM = "I/N with 0 <= I < N (I is 0-based: 0/4, 1/4, 2/4 and 3/4 are the four shards of four)"
"""How a shard is written, for error messages."""


def item_key(item_id: int) -> int:
    """The item's stable key in ``[0, 2**64)``."""
    digest = hashlib.blake2b(
        item_id.to_bytes(8, "big", signed=True), digest_size=8, person=_PERSON
    ).digest()
    return int.from_bytes(digest, "big")


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@attrs.frozen
class Shard:
    """Shard ``index`` of ``count`` (``index`` 0-based)."""

    index: int
    count: int

    def __attrs_post_init__(self) -> None:
        if not (_whole(self.index) and _whole(self.count)) or not 0 <= self.index < self.count:
            raise ValueError(f"({self.index!r}, {self.count!r}) is not a shard: expected {FORM}")

    def holds(self, item_id: int) -> bool:
        """Whether the item with this id is in this shard's share."""
        return (item_key(item_id) * self.count) >> _KEY_BITS == self.index

    def overlaps(self, other: Shard | None) -> bool:
        """Whether some item could be in both shares (``None``, a run without a shard,
        holds every item)."""
        if other is None:
            return True
        return (
            self.index * other.count < (other.index + 1) * self.count
            and other.index * self.count < (self.index + 1) * other.count
        )

    def size_of(self, items: int) -> int:
        """How many of the item ids ``0 .. items - 1`` this shard holds."""
        return _held_below(self, items)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def order(self) -> tuple[int, int]:
        """How shards are listed: by count, then index."""
        return self.count, self.index

    @classmethod
    def parse(cls, value: Any, source: str) -> Shard:
        """A shard from ``Shard``, ``(I, N)`` or ``"I/N"``; ``source`` says where the value
        came from in the error (``"shard="``, ``"--shard "``, ``"DOTEVAL_SHARD="``)."""
        if isinstance(value, Shard):
            return value
        parts: Any = None
        if isinstance(value, str):
            found = _FORM.fullmatch(value)
            parts = (int(found[1]), int(found[2])) if found else None
        elif isinstance(value, (tuple, list)) and len(value) == 2:
            parts = tuple(value)
        if parts is not None:
            try:
                return cls(*parts)
            except ValueError:
                pass
        raise ValueError(f"{source}{value!r} is not a shard: expected {FORM}")


@functools.lru_cache(maxsize=64)
def _held_below(shard: Shard, items: int) -> int:
    return sum(1 for item_id in range(items) if shard.holds(item_id))
