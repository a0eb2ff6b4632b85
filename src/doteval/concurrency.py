"""Concurrency strategies: how many items run at once, and how fast they start."""

from doteval._private.concurrency.adaptive import AdaptiveStrategy
from doteval._private.concurrency.strategies import (
    RateLimitedStrategy,
    SequentialStrategy,
    SlidingWindowStrategy,
)
from doteval._private.concurrency.user_strategy import AsyncConcurrencyStrategy
from doteval._private.public import publish as _publish

__all__ = [
    "AdaptiveStrategy",
    "AsyncConcurrencyStrategy",
    "RateLimitedStrategy",
    "SequentialStrategy",
    "SlidingWindowStrategy",
]

_publish(__name__, globals(), __all__)
