"""The row a SQL store keeps per shard of an evaluation (sqlite's ``shards``, postgres's
``doteval_shards``), read back as a ``ShardInfo``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from doteval._private.results.records import Counts
from doteval._private.storage.lease import Lease
from doteval._private.storage.protocol import ShardInfo
from doteval._private.storage.shard import Shard

SHARD_COLUMNS = (
    "evaluation_id, shard_count, shard_index, status, started_at, ended_at, counts, lease, expected"
)
"""What :func:`shard_info` reads, in its order."""


def shard_info(row: Sequence[Any]) -> ShardInfo:
    """A row of :data:`SHARD_COLUMNS` as the shard's info."""
    counts, lease = row[6], row[7]
    return ShardInfo(
        shard=Shard(int(row[2]), int(row[1])),
        status=row[3],
        started_at=row[4],
        ended_at=row[5],
        counts=None if counts is None else Counts(**json.loads(counts)),
        holder=Lease.from_json(json.loads(lease)) if lease else None,
        expected=None if row[8] is None else int(row[8]),
    )
