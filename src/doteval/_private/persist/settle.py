"""When a shard's run ends: the totals over every shard, once every item is stored.

Each shard's run stores, and returns, the totals of its own share. The totals of the
whole evaluation (what ``doteval show``, ``doteval list`` and ``doteval.load`` read
without reading every record) are stored by the run that ends with every item
stored, whichever shards stored them: it reads the records back, and the store keeps
their totals unless a run began meanwhile or the records changed. Until then, or if
this fails, ``doteval.load`` totals the records up itself.
"""

from __future__ import annotations

import warnings

from doteval._private.errors import DotevalError, StorageWarning
from doteval._private.results.aggregate import Aggregator
from doteval._private.storage.policy import Store


def settle(
    storage: Store,
    experiment: str,
    evaluation: str,
    like: Aggregator,
    status: str,
    expected: int,
    samples: int | None,
) -> None:
    """Store the evaluation's totals over every shard if all ``expected`` item-epochs are
    stored; ``like`` summarises them as the run did."""
    if storage.count(experiment, evaluation) < expected:  # other shards are not done
        return
    merged = like.like()
    try:
        for record in storage.records(experiment, evaluation, stop=samples):
            merged.add(record)
        if merged.counts.total == expected:
            storage.settle(
                experiment, evaluation, status, merged.counts, merged.summary, merged.estimates
            )
    except DotevalError as exc:
        warnings.warn(
            f"{evaluation}: every shard's items are stored, but their totals could not be "
            f"(doteval.load computes them from the records instead): {exc}",
            StorageWarning,
            stacklevel=2,
        )
