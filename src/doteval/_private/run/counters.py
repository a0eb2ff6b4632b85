"""Live counters of a run: bumped by the items as they run, read by the progress display."""

from __future__ import annotations

import attrs


@attrs.define(eq=False, repr=False)
class LiveStats:
    """Plain integers updated on the event loop, so counting costs an increment.

    A display thread only reads them; a slightly stale read is harmless.
    """

    started: int = 0
    finished: int = 0
    retries: int = 0
    skipped: int = 0
    """Items a resumed run found stored, so it did not run them again."""

    @property
    def in_flight(self) -> int:
        return self.started - self.finished
