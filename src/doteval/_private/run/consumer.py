"""The run's single consumer: every record goes through here, in the order items finish."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from doteval._private.concurrency.handler import Outcome
from doteval._private.concurrency.streams import receive
from doteval._private.persist.hook import PersistHook
from doteval._private.results.records import Record

Observer = Callable[[Record], None]
"""Takes each record as it arrives: the aggregator, the hooks, the producer's pacing."""


def _observe(outcome: Outcome, observers: Sequence[Observer]) -> None:
    """Hand the records of one unit of work (an item, or a batch's items) to the observers."""
    for record in (outcome,) if isinstance(outcome, Record) else outcome:
        for observe in observers:
            observe(record)


async def consume(
    results: MemoryObjectReceiveStream[Outcome],
    observers: Sequence[Observer],
    persist: PersistHook,
) -> None:
    """Hand every record to the observers until the workers are done."""
    while True:
        try:
            outcome = await receive(results)
        except anyio.EndOfStream:
            return
        _observe(outcome, observers)
        if persist.backlogged:
            await persist.wait_for_room()  # the store is behind


def drain(results: MemoryObjectReceiveStream[Outcome], observers: Sequence[Observer]) -> None:
    """Take in the records already waiting in ``results``, without blocking: items that
    finished before a cancellation still count, and persist."""
    while True:
        try:
            outcome = results.receive_nowait()
        except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
            return
        _observe(outcome, observers)
