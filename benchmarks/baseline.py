"""The bare-anyio worker pool that doteval's numbers are compared with.

It is what one would write by hand without doteval: a task group, one bounded
memory object stream from a producer to ``window`` workers, and a shared counter
instead of records. It shares the item functions with the doteval side, so both
call ``exact_match(a, a)``.

Two of them: ``bare_pool`` hands items over with the blocking ``send``/``receive``
(one checkpoint per hand-off, as most code does), ``tuned_pool`` tries
``send_nowait``/``receive_nowait`` first and waits only when it must: the floor a
pool over anyio's streams can reach, and the baseline of record for throughput.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from doteval import Score


async def bare_pool(
    rows: Iterable[Any], item: Callable[[Any], Awaitable[Score]], window: int
) -> int:
    """Run ``item`` over ``rows`` with ``window`` workers; the number of true scores."""
    send, receive = anyio.create_memory_object_stream[Any](window)
    correct = 0

    async def work(jobs: MemoryObjectReceiveStream[Any]) -> None:
        nonlocal correct
        async with jobs:
            async for row in jobs:
                score = await item(row)
                correct += bool(score.value)

    async with anyio.create_task_group() as task_group:
        async with receive:
            for _ in range(window):
                task_group.start_soon(work, receive.clone())
        async with send:
            for row in rows:
                await send.send(row)
    return correct


async def tuned_pool(
    rows: Iterable[Any], item: Callable[[Any], Awaitable[Score]], window: int
) -> int:
    """``bare_pool`` handing items over without a checkpoint whenever one is ready."""
    send, receive = anyio.create_memory_object_stream[Any](window)
    correct = 0

    async def work(jobs: MemoryObjectReceiveStream[Any]) -> None:
        nonlocal correct
        async with jobs:
            while True:
                try:
                    row = jobs.receive_nowait()
                except anyio.WouldBlock:
                    try:
                        row = await jobs.receive()
                    except anyio.EndOfStream:
                        return
                except anyio.EndOfStream:
                    return
                score = await item(row)
                correct += bool(score.value)

    async with anyio.create_task_group() as task_group:
        async with receive:
            for _ in range(window):
                task_group.start_soon(work, receive.clone())
        async with send:
            for row in rows:
                try:
                    send.send_nowait(row)
                except anyio.WouldBlock:
                    await send.send(row)
    return correct
