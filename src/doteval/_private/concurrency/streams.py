"""Handing items through memory object streams without a scheduler trip when one is ready.

anyio's ``await receive()``/``await send()`` always checkpoint; when an item is
already waiting (or room is free), the ``*_nowait`` call skips that round trip.
Every hand-off of a run goes through these two functions. The slow path runs outside
the ``except`` block, so an error or cancellation while waiting is not chained to the
``WouldBlock`` (a user's Ctrl-C traceback would show it).
"""

from __future__ import annotations

from typing import TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

T = TypeVar("T")


async def receive(stream: MemoryObjectReceiveStream[T]) -> T:
    """The next item; ``anyio.EndOfStream`` once the stream is closed and empty."""
    try:
        return stream.receive_nowait()
    except anyio.WouldBlock:
        pass
    return await stream.receive()


async def send(stream: MemoryObjectSendStream[T], item: T) -> None:
    """Send ``item``, waiting only when the buffer is full."""
    try:
        stream.send_nowait(item)
        return
    except anyio.WouldBlock:
        pass
    await stream.send(item)
