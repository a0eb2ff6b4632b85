"""``stop_after_errors``: a run that can never succeed stops early instead of failing every item.

A bug that raises on every row, or a server that refuses every connection, would
otherwise cost a whole dataset of identical errors (each after its retries). While
nothing has succeeded, the first ``limit`` records all failing with the same error
type stop the run; once any item succeeds (in this run or a run it resumes), errors
are recorded and the run goes on.
"""

from __future__ import annotations

import anyio
import attrs

from doteval._private.results.records import Record
from doteval._private.text import plural


@attrs.define(eq=False, repr=False)
class ErrorStreak:
    """Watches the first records of a run; cancels ``scope`` when they all fail alike."""

    limit: int
    """``0`` turns the check off."""
    scope: anyio.CancelScope = attrs.field(factory=anyio.CancelScope)
    """The scope of the run's task group: cancelling it ends the run normally."""
    armed: bool = True
    kind: str | None = None
    count: int = 0
    reason: str | None = None
    """Why the run stopped, once it did."""

    def __attrs_post_init__(self) -> None:
        self.armed = self.limit > 0

    def disarm(self) -> None:
        """Something succeeded already (a resumed run's stored items): never stop."""
        self.armed = False

    def observe(self, record: Record) -> None:
        if not self.armed:
            return
        error = record.error
        if error is None or (self.kind is not None and error.type != self.kind):
            self.armed = False
            return
        self.kind = error.type
        self.count += 1
        if self.count >= self.limit:
            self.armed = False
            message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
            self.reason = (
                f"the first {plural(self.count, 'item')} all failed with {error.type}: "
                f"{message}, and none succeeded, so the run stopped (stop_after_errors="
                f"{self.limit})"
            )
            self.scope.cancel()
