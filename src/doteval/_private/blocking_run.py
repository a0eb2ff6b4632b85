"""``doteval.run``: a synchronous entry point for scripts and notebooks."""

from __future__ import annotations

import functools
import sys
from typing import Any

import anyio
import anyio.from_thread

from doteval._private.evaluation import Evaluation
from doteval._private.records import EvaluationResult


def _event_loop_running() -> bool:
    try:
        anyio.get_cancelled_exc_class()
    except anyio.NoEventLoopError:
        pass
    else:
        return True
    # Jupyter runs cells inside its own asyncio loop, sometimes outside any task.
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and asyncio._get_running_loop() is not None


def run(evaluation: Evaluation, backend: str = "asyncio", **kwargs: Any) -> EvaluationResult:
    """Run ``evaluation`` to completion and return its result.

    Inside a running event loop (a Jupyter cell), the run gets its own event loop
    in a worker thread, which is joined before this returns.
    """
    if not isinstance(evaluation, Evaluation):
        raise TypeError(
            f"doteval.run() takes a function decorated with @doteval.foreach, got {evaluation!r}"
        )
    call = functools.partial(evaluation, **kwargs)
    if not _event_loop_running():
        return anyio.run(call, backend=backend)
    with anyio.from_thread.start_blocking_portal(backend) as portal:
        # Leaving the portal cancels the run (e.g. on Ctrl-C) and joins its thread.
        return portal.call(call)
