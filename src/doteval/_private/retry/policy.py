"""Retrying one item: stamina's jittered backoff by default, tenacity when the user asks."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar

import anyio
import attrs

from doteval._private.errors import RetriesExhaustedError
from doteval._private.retry.transient import is_transient, retry_after
from doteval._private.validators import number

_retrying: ContextVar[bool] = ContextVar("doteval_retrying", default=False)
"""Set while doteval retries an item: stamina's hooks are process-wide, so its log of
each retry is told apart by the context it is logged in."""


class _QuietDotevalRetries(logging.Filter):
    """Drops stamina's ``retry_scheduled`` log records of doteval's own retries (counted
    in each record, the progress line and the summary instead), unless ``DOTEVAL_LOG=debug``
    or the ``doteval`` logger itself is set to DEBUG; the user's own stamina retries still
    log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _retrying.get():
            return True
        if os.environ.get("DOTEVAL_LOG", "").lower() == "debug":
            return True
        # Set on doteval's logger itself, not inherited from a root logger at DEBUG.
        return 0 < logging.getLogger("doteval").level <= logging.DEBUG


_QUIET = _QuietDotevalRetries()

T = TypeVar("T")


class Retrier(Protocol):
    async def call(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt`` until it succeeds or retrying gives up (re-raising the last error)."""
        ...


@attrs.frozen
class RetryPolicy:
    """Jittered exponential retries (through stamina) for transient errors.

    ``on`` decides which exceptions are retried; by default network errors,
    timeouts, HTTP 429 and 5xx. A server's ``Retry-After`` is honoured up to
    ``wait_max``.
    """

    attempts: int = attrs.field(default=3, validator=number(at_least=1, whole=True))
    wait_initial: float = attrs.field(default=1.0, validator=number(at_least=0))
    wait_max: float = attrs.field(default=30.0, validator=number(at_least=0))
    wait_jitter: float = attrs.field(default=1.0, validator=number(at_least=0))
    timeout: float | None = attrs.field(default=None, validator=number(above=0))
    on: Callable[[Exception], bool] = attrs.field(default=is_transient, repr=False)

    def _backoff(self, exc: Exception) -> bool | float:
        if not self.on(exc):
            return False
        wait = retry_after(exc)
        return True if wait is None else min(wait, self.wait_max)

    def retries(self, error: Exception) -> bool:
        """Whether an attempt that raised ``error`` is tried again."""
        return self.attempts > 1 and self._backoff(error) is not False

    async def call(self, attempt: Callable[[], Awaitable[T]], failed: Exception | None = None) -> T:
        """``failed``: how a first attempt the caller made itself failed (it counts as
        attempt 1)."""
        # The first attempt runs bare: entering stamina's machinery costs more than a
        # cheap item, so only items that fail pay for it.
        if failed is None:
            try:
                return await attempt()
            except Exception as exc:
                failed = exc
        if not self.retries(failed):
            raise failed
        first: Exception | None = failed

        import stamina  # deferred: importing it imports tenacity

        logging.getLogger("stamina").addFilter(_QUIET)  # once: a filter is added only once
        token = _retrying.set(True)
        try:
            async for retry in stamina.retry_context(
                on=self._backoff,
                attempts=self.attempts,
                timeout=self.timeout,
                wait_initial=self.wait_initial,
                wait_max=self.wait_max,
                wait_jitter=self.wait_jitter,
            ):
                with retry:
                    if first is not None:  # replays attempt 1 so stamina schedules its backoff
                        failed, first = first, None
                        raise failed
                    return await _as_users(attempt)
        finally:
            _retrying.reset(token)
        raise AssertionError("stamina ended its retry loop without an outcome")


async def _as_users(attempt: Callable[[], Awaitable[T]]) -> T:
    """Run an attempt outside doteval's retry context: stamina retries inside the user's
    own code log as they would without doteval."""
    token = _retrying.set(False)
    try:
        return await attempt()
    finally:
        _retrying.reset(token)


class AsyncRetryingLike(Protocol):
    """What doteval needs of a ``tenacity.AsyncRetrying`` (tenacity is never imported)."""

    def copy(self, **kwargs: Any) -> Any: ...

    def __aiter__(self) -> Any: ...


@attrs.frozen(repr=False)
class TenacityRetrier:
    """Drives a user's ``tenacity.AsyncRetrying`` with a fresh copy per item."""

    prototype: Any

    async def call(self, attempt: Callable[[], Awaitable[T]]) -> T:
        # One shared AsyncRetrying keeps one retry state: concurrent items would
        # overwrite each other's attempts, so each item gets its own copy.
        retrying = self.prototype.copy(sleep=anyio.sleep)
        value: Any = None
        try:
            async for retry in retrying:
                with retry:
                    value = await attempt()
                if not retry.retry_state.outcome.failed:
                    retry.retry_state.set_result(value)
        except Exception as exc:
            last = getattr(exc, "last_attempt", None)
            if type(exc).__name__ != "RetryError" or last is None:
                raise
            if last.failed:
                raise last.exception() from None
            raise RetriesExhaustedError(
                f"retries exhausted after {last.attempt_number} attempts; the last "
                f"attempt returned {last.result()!r}"
            ) from None
        return value  # type: ignore[no-any-return]


def resolve_retries(value: Any) -> Retrier:
    """Interpret the ``retries=`` option."""
    if value is None or value is True:
        return RetryPolicy()
    if value is False:
        return RetryPolicy(attempts=1)
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"retries must be 0 or more, got {value}")
        return RetryPolicy(attempts=value + 1)
    if isinstance(value, RetryPolicy):
        return value
    if hasattr(value, "copy") and hasattr(value, "__aiter__"):
        return TenacityRetrier(value)
    if hasattr(value, "copy") and hasattr(value, "__iter__"):
        raise TypeError(
            "retries= got a synchronous tenacity.Retrying; doteval awaits its "
            "attempts, so pass tenacity.AsyncRetrying(...) instead"
        )
    raise TypeError(
        f"retries= takes a doteval.RetryPolicy, a tenacity.AsyncRetrying, a number "
        f"of retries, or False; got {value!r}"
    )
