"""The run's single consumer: every record goes through here, in the order items finish."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from doteval._private.concurrency.streams import receive
from doteval._private.persist.hook import PersistHook
from doteval._private.results.records import Record

Observer = Callable[[Record], None]
"""Takes each record as it arrives: the aggregator, the hooks, the producer's pacing."""


async def consume(
    results: MemoryObjectReceiveStream[Record],
    observers: Sequence[Observer],
    persist: PersistHook,
) -> None:
    """Hand every record to the observers until the workers are done."""
    while True:
        try:
            record = await receive(results)
        except anyio.EndOfStream:
            return
        for observe in observers:
            observe(record)
        if persist.backlogged:
            await persist.wait_for_room()  # the store is behind


def drain(results: MemoryObjectReceiveStream[Record], observers: Sequence[Observer]) -> None:
    """Take in the records already waiting in ``results``, without blocking: items that
    finished before a cancellation still count, and persist."""
    while True:
        try:
            record = results.receive_nowait()
        except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
            return
        for observe in observers:
            observe(record)
