"""Concurrency strategies: how many items run at once, and how fast they start."""

from typing import TYPE_CHECKING, Any

from doteval._private.public import LazyExports as _LazyExports

if TYPE_CHECKING:
    from doteval._private.concurrency.adaptive import AdaptiveStrategy
    from doteval._private.concurrency.strategies import (
        RateLimitedStrategy,
        SequentialStrategy,
        SlidingWindowStrategy,
    )
    from doteval._private.concurrency.user_strategy import AsyncConcurrencyStrategy

__all__ = [
    "AdaptiveStrategy",
    "AsyncConcurrencyStrategy",
    "RateLimitedStrategy",
    "SequentialStrategy",
    "SlidingWindowStrategy",
]

_EXPORTS = _LazyExports(
    __name__,
    {
        "AdaptiveStrategy": "doteval._private.concurrency.adaptive",
        "RateLimitedStrategy": "doteval._private.concurrency.strategies",
        "SequentialStrategy": "doteval._private.concurrency.strategies",
        "SlidingWindowStrategy": "doteval._private.concurrency.strategies",
        "AsyncConcurrencyStrategy": "doteval._private.concurrency.user_strategy",
    },
)


def __getattr__(name: str) -> Any:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names(globals())
