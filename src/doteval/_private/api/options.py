"""Run options, their validation, and how the layers that set them combine.

An option can be set by ``@foreach``/``ForEach`` (the evaluation's defaults), by
the pytest plugin's command line and ini file (the session), and by the call
itself; the call ranks highest, then the session, then the defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

import attrs

from doteval._private.concurrency.strategies import BuiltinStrategy
from doteval._private.concurrency.user_strategy import AsyncConcurrencyStrategy
from doteval._private.protocols import provides
from doteval._private.retry.policy import AsyncRetryingLike, RetryPolicy
from doteval._private.scoring.reducers import Reducer
from doteval._private.storage.policy import Store
from doteval._private.storage.protocol import Storage
from doteval._private.storage.shard import Shard
from doteval._private.validators import flag, number, text

Concurrency = BuiltinStrategy | AsyncConcurrencyStrategy
"""A doteval strategy, or an object with the ``execute(tasks, progress_callback)`` method."""

Retries = RetryPolicy | AsyncRetryingLike | int | bool
"""A ``RetryPolicy``, a ``tenacity.AsyncRetrying``, a number of retries, or ``False``."""

ReducersOption = str | Reducer | Callable[[Sequence[Any]], Any] | Sequence[Any]
"""A reducer, its name (``"pass_at_5"``), a function of an item's epoch values, or a list."""

StorageOption = str | Storage | Store
"""A storage URL, or a backend or store object."""

ShardOption = tuple[int, int] | str | Shard
"""``(I, N)``, ``"I/N"`` or a ``Shard``: shard I (0-based) of N."""

SECONDS = number(above=0, unit="seconds")


def _storage(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not (isinstance(value, Store) or provides(value, Storage)):
        text(instance, attribute, value)


def _shard(value: ShardOption | None) -> Shard | None:
    return None if value is None else Shard.parse(value, "shard=")


@attrs.frozen(repr=False)
class RunOptions:
    """Every option a run takes; ``None`` means "not set at this layer"."""

    max_concurrency: int | None = attrs.field(
        default=None, validator=number(at_least=1, whole=True)
    )
    samples: int | None = attrs.field(default=None, validator=number(at_least=0, whole=True))
    concurrency: Concurrency | None = None
    retries: Retries | None = None
    timeout: float | None = attrs.field(default=None, validator=SECONDS)
    experiment: str | None = attrs.field(default=None, validator=text)
    storage: StorageOption | None = attrs.field(default=None, validator=_storage)
    progress: bool | None = attrs.field(default=None, validator=flag)
    keep_records: bool | None = attrs.field(default=None, validator=flag)
    blocking_threshold: float | None = attrs.field(default=None, validator=SECONDS)
    epochs: int | None = attrs.field(default=None, validator=number(at_least=1, whole=True))
    reducers: ReducersOption | None = None
    cluster: str | None = attrs.field(default=None, validator=text)
    stop_after_errors: int | None = attrs.field(
        default=None, validator=number(at_least=0, whole=True)
    )
    shard: Shard | None = attrs.field(default=None, converter=_shard)

    def over(self, *lower: RunOptions) -> RunOptions:
        """These options, with unset ones taken from the ``lower`` layers in order."""
        merged = attrs.asdict(self, recurse=False)
        for layer in lower:
            for name, value in attrs.asdict(layer, recurse=False).items():
                if merged[name] is None:
                    merged[name] = value
        return RunOptions(**merged)


RESERVED = frozenset(attrs.fields_dict(RunOptions))
"""Keyword arguments doteval takes for itself; evaluation functions cannot use them."""

DEFAULT_BLOCKING_THRESHOLD = 0.5

DEFAULT_STOP_AFTER_ERRORS = 20
"""While nothing has succeeded, this many records failing alike stop a run."""

session_options: ContextVar[RunOptions] = ContextVar(
    "doteval_session_options",
    default=RunOptions(),  # noqa: B039 -- frozen, so sharing it is safe
)
"""Options from the command line or ini file, set by the pytest plugin."""
