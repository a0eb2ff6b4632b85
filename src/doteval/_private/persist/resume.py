"""Resuming: which dataset positions a run may skip, checked against what the store holds.

The producer walks the dataset and a cursor over the stored items, both in item
order (a merge-join): a stored success is skipped, a stored error re-runs, a
position with nothing stored runs. With several epochs, each epoch of an item is
stored on its own, and only those not stored as successes run again. The row now at
each stored position must hash to the stored row hash, or the dataset changed and
the run stops.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NoReturn, Protocol

import attrs

from doteval._private.errors import DatasetChangedError, StorageError
from doteval._private.storage.protocol import StoredItem
from doteval._private.text import shorten

FETCH_SIZE = 10_000
"""Stored items read per trip to the store: memory stays bounded however big the experiment."""

NOTHING: frozenset[int] = frozenset()
FIRST_EPOCH: frozenset[int] = frozenset((0,))
"""What most stored items have (one run, a success): shared, not built per item."""


class Pending(Protocol):
    """A read of stored items under way on the store thread."""

    async def result(self) -> Sequence[StoredItem]: ...


Fetch = Callable[[int, int], Pending]
"""Starts reading up to ``count`` stored items with ids from ``start`` on, in id order."""


@attrs.define(eq=False, repr=False)
class StoredCursor:
    """The stored items of one evaluation, read in batches as the producer reaches them.

    While the producer walks one batch, the store thread already reads the next.
    """

    fetch: Fetch
    hash_row: Callable[[Any], int]
    experiment: str
    evaluation: str
    exhausted: bool = False
    _batch: Sequence[StoredItem] = ()
    _next: int = 0
    _ahead: Pending | None = None

    async def refill(self, start: int) -> None:
        """Read the stored items from ``start`` on (``stored_epochs`` returned ``None``)."""
        try:
            pending = self._ahead if self._ahead is not None else self.fetch(start, FETCH_SIZE)
            self._batch = await pending.result()
            self._ahead = None
            if len(self._batch) == FETCH_SIZE:
                # From the last item again: the batch may have ended inside its epochs.
                self._ahead = self.fetch(self._batch[-1][0], FETCH_SIZE)
        except Exception as exc:
            raise StorageError(
                f"reading the stored items of {self.evaluation} in experiment "
                f"{self.experiment!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
        self._next = 0
        self.exhausted = not self._batch

    def stored_epochs(self, item_id: int, row: Any) -> frozenset[int] | None:
        """The epochs of position ``item_id`` stored as successes (the others must run);
        ``None`` when the cursor must :meth:`refill` first."""
        batch, position = self._batch, self._next
        size = len(batch)
        # Items below ``item_id`` were written by this run after the read began: passed.
        while position < size and batch[position][0] < item_id:
            position += 1
        self._next = position
        if position == size:
            return NOTHING if self.exhausted else None
        first = batch[position]
        if first[0] != item_id:
            return NOTHING
        end = position + 1
        while end < size and batch[end][0] == item_id:
            end += 1
        if end == size == FETCH_SIZE:
            return None  # its epochs may go on in the next batch
        self._next = end
        if self.hash_row(row) != first[1]:  # checked inline: a call per stored row counts
            self._changed(item_id, row)
        if end == position + 1 and first[2] and (len(first) < 4 or first[3] == 0):
            return FIRST_EPOCH
        return frozenset(
            entry[3] if len(entry) > 3 else 0 for entry in batch[position:end] if entry[2]
        )

    def _changed(self, item_id: int, row: Any) -> NoReturn:
        raise DatasetChangedError(
            f"the dataset of {self.evaluation} changed since experiment "
            f"{self.experiment!r} stored it: row {item_id} is now {shorten(row, 120)}, "
            f"which is not the row stored for item {item_id}. To evaluate the new "
            f"dataset, pass a new experiment= name (or delete this one with "
            f"`doteval delete {self.experiment}`)"
        )

    async def check_end(self, rows: int) -> None:
        """After the dataset ran out at ``rows`` rows: no stored item may lie beyond it."""
        while not self.exhausted:
            batch, position = self._batch, self._next
            while position < len(batch) and batch[position][0] < rows:
                position += 1
            self._next = position
            if position < len(batch):
                raise DatasetChangedError(
                    f"the dataset of {self.evaluation} now has {rows} rows, but experiment "
                    f"{self.experiment!r} stored item {batch[position][0]}: the dataset "
                    f"changed since. To evaluate the new dataset, pass a new experiment= "
                    f"name (or delete this one with `doteval delete {self.experiment}`)"
                )
            await self.refill(rows)
