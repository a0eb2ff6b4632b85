"""How an evaluation run in shards reads as one: its status, and its shards' progress.

Nothing is merged on disk: the shards store into one evaluation, so its records are
already one set. What needs deciding is its status. It is ``running`` while any
shard's holder is alive; once none is, it is ``completed`` when as many records are
stored as a shard that read the dataset to its end expects (whichever shards stored
them), ``failed`` if a shard failed, and ``interrupted`` otherwise (run the missing
shards, or any shards, to finish it). A dead holder's ``running`` reads as
``interrupted``, for shards as for whole runs.
"""

from __future__ import annotations

import attrs

from doteval._private.storage.protocol import EvaluationInfo, ShardInfo
from doteval._private.storage.status import (
    COMPLETED,
    FAILED,
    INTERRUPTED,
    PARTIAL,
    RUNNING,
    effective_status,
)


def merged(info: EvaluationInfo) -> EvaluationInfo:
    """``info`` with the status doteval reads: a dead holder's run is interrupted, and an
    evaluation with shards has the status of them all."""
    status = effective_status(info.status, info.holder)
    if not info.shards:
        return attrs.evolve(info, status=status)
    shards = tuple(
        attrs.evolve(shard, status=effective_status(shard.status, shard.holder))
        for shard in info.shards
    )
    if status != RUNNING and not any(shard.status == RUNNING for shard in shards):
        settled = info.status in (COMPLETED, PARTIAL) and info.summary is not None
        status = info.status if settled else _ended(info, shards)
    else:
        status = RUNNING
    return attrs.evolve(info, status=status, shards=shards)


def _ended(info: EvaluationInfo, shards: tuple[ShardInfo, ...]) -> str:
    """The status of an evaluation none of whose shards runs."""
    stored = 0 if info.counts is None else info.counts.total
    knowing = [shard for shard in shards if shard.expected is not None]
    if knowing:
        widest = max(knowing, key=lambda shard: shard.expected or 0)
        if stored >= (widest.expected or 0):
            return PARTIAL if widest.status == PARTIAL else COMPLETED
    if any(shard.status == FAILED for shard in shards):
        return FAILED
    return INTERRUPTED
