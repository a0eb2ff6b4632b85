"""How an evaluation stands in a store, and how a dead holder's ``running`` reads."""

from __future__ import annotations

from doteval._private.storage.lease import Lease, is_stale

RUNNING = "running"
COMPLETED = "completed"
PARTIAL = "partial"
"""Completed over part of the dataset (``samples=`` stopped it early)."""
INTERRUPTED = "interrupted"
FAILED = "failed"


def effective_status(status: str, holder: Lease | None) -> str:
    """A run whose holder died still says ``running`` in the store; show it as interrupted."""
    if status == RUNNING and (holder is None or is_stale(holder)):
        return INTERRUPTED
    return status
