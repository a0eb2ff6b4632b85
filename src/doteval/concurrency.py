"""Concurrency strategies: how many items run at once, and how fast they start."""

from doteval._private.adaptive import AdaptiveStrategy
from doteval._private.public import publish as _publish
from doteval._private.strategies import (
    AsyncConcurrencyStrategy,
    RateLimitedStrategy,
    SequentialStrategy,
    SlidingWindowStrategy,
)

__all__ = [
    "AdaptiveStrategy",
    "AsyncConcurrencyStrategy",
    "RateLimitedStrategy",
    "SequentialStrategy",
    "SlidingWindowStrategy",
]

_publish(__name__, globals(), __all__)
