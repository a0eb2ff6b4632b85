"""Running one item: bind its row, call the evaluation with retries, check what it returned."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import attrs

from doteval._private.concurrency.handler import AttemptGate
from doteval._private.errors import ItemTimeoutError, ReturnValueError, RowError
from doteval._private.results.records import ErrorInfo, Record
from doteval._private.retry.policy import Retrier, RetryPolicy
from doteval._private.run.binding import bind_row
from doteval._private.run.counters import LiveStats
from doteval._private.run.threads import ItemInterrupt, SyncThreads
from doteval._private.scoring.score import Result, Score
from doteval._private.scoring.values import is_real, plain_value
from doteval._private.text import shorten


def describe_return(value: Any) -> str:
    """An unusable return value, as an error message names it (a coroutine is closed, so
    it never warns that it was not awaited)."""
    described = f"{type(value).__name__} {shorten(value, 120)}"
    if inspect.iscoroutine(value):
        value.close()
        described += " (a coroutine: define the evaluation with `async def`, or await it)"
    return described


def _check_distinct(scores: tuple[Score, ...], evaluation: str) -> None:
    """Two scores of one name in one ``Result`` would be pooled into one summary entry."""
    names = [score.name for score in scores]
    if len(set(names)) == len(names):
        return
    twice = sorted({name for name in names if names.count(name) > 1})
    raise ReturnValueError(
        f"{evaluation} returned a Result with several scores named "
        f"{', '.join(map(repr, twice))}, which would be pooled into one summary entry; "
        f"pass name= to tell them apart, e.g. "
        f"exact_match(answer, expected, name={twice[0] + '_strict'!r})"
    )


def _plain(scores: tuple[Score, ...], evaluation: str) -> tuple[Score, ...]:
    """The scores with plain values, checked against their metrics (see ``scoring.values``)."""
    changed: list[Score] | None = None
    for index, score in enumerate(scores):
        value = plain_value(score.value, score.name, evaluation)
        for chosen in score.metrics:
            if chosen.numeric and not is_real(value):
                raise ReturnValueError(
                    f"{evaluation}: score {score.name!r} has the value {shorten(value, 80)}, "
                    f"which {chosen.name} cannot take (it needs a number); return a number, "
                    f"or raise an error for this item if it could not be scored"
                )
        if value is not score.value:
            changed = changed or list(scores)
            changed[index] = attrs.evolve(score, value=value)
    return scores if changed is None else tuple(changed)


def to_scores(value: Any, evaluation: str) -> tuple[tuple[Score, ...], Any, Any]:
    """The scores, prompt and response in an evaluation's return value."""
    if isinstance(value, Score):
        return _plain((value,), evaluation), None, None
    if isinstance(value, Result):
        _check_distinct(value.scores, evaluation)
        return _plain(value.scores, evaluation), value.prompt, value.model_response
    if (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(score, Score) for score in value)
    ):
        return _plain(tuple(value), evaluation), None, None
    raise ReturnValueError(
        f"{evaluation} returned {describe_return(value)}; return a Score (e.g. "
        f"exact_match(result, answer)), a non-empty list of Scores, or "
        f"doteval.Result(*scores, prompt=..., model_response=...)"
    )


def failed_record(
    item_id: int,
    row: Any,
    error: Exception | ErrorInfo,
    attempts: Attempts,
    started: float,
    epoch: int,
) -> Record:
    """The record of an item that ended in ``error`` (an exception, or one described
    already: the items of a failed batch share one)."""
    return Record(
        item_id,
        row,
        error=error if isinstance(error, ErrorInfo) else ErrorInfo.from_exception(error),
        attempts=attempts.count,
        duration=time.perf_counter() - started,
        timestamp=time.time(),
        epoch=epoch,
    )


@attrs.define(eq=False, repr=False)
class Attempts:
    """The attempts one unit of work took so far; each retry counts as ``items`` retries
    in the live counters (a batch's retry retries each of its items)."""

    items: int = 1
    count: int = 0


@attrs.frozen(repr=False)
class ItemRunner:
    """Turns a job into a record; never raises for anything the item did wrong."""

    evaluation: str
    fn: Callable[..., Any]
    is_async: bool
    columns: tuple[str, ...]
    extra: Mapping[str, Any]
    retrier: Retrier
    timeout: float | None = None
    thread_limiter: anyio.CapacityLimiter | None = None
    gate: AttemptGate | None = None
    stats: LiveStats | None = None
    threads: SyncThreads = attrs.field(
        default=attrs.Factory(lambda self: SyncThreads(f"doteval-{self.evaluation}"), True),
        eq=False,
    )
    """Where a plain ``def`` runs; the engine stops its idle threads when the run ends."""

    plain: bool = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda self: (
                self.is_async
                and self.gate is None
                and self.timeout is None
                and isinstance(self.retrier, RetryPolicy)
            ),
            takes_self=True,
        ),
        eq=False,
        repr=False,
    )
    """Whether an item's first attempt is a bare call of the function: nothing to pace,
    time out or run in a thread, and a policy that retries only after a failure. Most
    items then cost one frame of doteval's; a failure goes on in the retry machinery."""

    def gated(self, gate: AttemptGate) -> ItemRunner:
        return attrs.evolve(self, gate=gate)

    async def __call__(self, item_id: int, row: Any, epoch: int = 0) -> Record:
        stats = self.stats
        if stats is not None:
            stats.started += 1
        try:
            started = time.perf_counter()
            try:
                bound = bind_row(row, self.columns)
            except RowError as exc:
                return Record(
                    item_id,
                    row,
                    error=ErrorInfo.from_exception(exc),
                    timestamp=time.time(),
                    epoch=epoch,
                )
            # The record keeps the row alone: extra arguments (a model client) are not data.
            arguments = {**bound, **self.extra} if self.extra else bound
            attempts = Attempts()
            try:
                if self.plain:  # the happy path: one frame between the worker and the function
                    attempts.count = 1
                    failed: Exception | None = None
                    try:
                        value = await self.fn(**arguments)
                    except (KeyboardInterrupt, SystemExit) as exc:
                        raise ItemInterrupt(exc) from None  # to the run's task, raised there
                    except Exception as exc:
                        failed = exc
                    if failed is not None:  # retried outside the except: no chained errors
                        if not self._retries(failed):  # recorded as raised, not re-raised
                            return failed_record(item_id, bound, failed, attempts, started, epoch)
                        value = await self._retry(failed, arguments, attempts)
                else:
                    value = await self.call(arguments, attempts)
                scores, prompt, response = to_scores(value, self.evaluation)
            except Exception as exc:
                return failed_record(item_id, bound, exc, attempts, started, epoch)
            return Record(
                item_id,
                bound,
                scores,
                prompt,
                response,
                None,
                attempts.count,
                time.perf_counter() - started,
                time.time(),
                epoch,
            )
        finally:
            if stats is not None:
                stats.finished += 1

    async def call(self, arguments: dict[str, Any], attempts: Attempts) -> Any:
        """The evaluation's value for ``arguments``, retried as the policy says; every
        attempt passes the gate and the timeout, and is counted in ``attempts``."""
        return await self.retrier.call(self._counted(arguments, attempts))

    def _retries(self, failed: Exception) -> bool:
        assert isinstance(self.retrier, RetryPolicy)
        return self.retrier.retries(failed)

    async def _retry(self, failed: Exception, arguments: dict[str, Any], attempts: Attempts) -> Any:
        """After a plain first attempt failed with ``failed``: the retries it gets."""
        assert isinstance(self.retrier, RetryPolicy)
        return await self.retrier.call(self._counted(arguments, attempts), failed=failed)

    def _counted(self, arguments: dict[str, Any], attempts: Attempts) -> Callable[[], Any]:
        async def attempt() -> Any:
            attempts.count += 1
            if attempts.count > 1 and self.stats is not None:
                self.stats.retries += attempts.items
            return await self._attempt(arguments)

        return attempt

    async def _attempt(self, arguments: dict[str, Any]) -> Any:
        if self.gate is None:
            return await self._call_with_timeout(arguments)
        await self.gate.enter()
        try:
            value = await self._call_with_timeout(arguments)
        except BaseException as exc:
            self.gate.exit(exc)
            raise
        self.gate.exit(None)
        return value

    async def _call_with_timeout(self, arguments: dict[str, Any]) -> Any:
        if self.timeout is None:
            return await self._call(arguments)
        with anyio.move_on_after(self.timeout) as scope:
            return await self._call(arguments)
        if scope.cancelled_caught:
            raise ItemTimeoutError(
                f"{self.evaluation} timed out after {self.timeout:g} s (the timeout= "
                f"option); raise it if the model needs longer"
            )
        raise AssertionError("a timed call neither returned nor timed out")

    async def _call(self, arguments: dict[str, Any]) -> Any:
        if self.is_async:
            try:
                return await self.fn(**arguments)
            except (KeyboardInterrupt, SystemExit) as exc:
                raise ItemInterrupt(exc) from None  # to the run's task, raised there as is
        # In a daemon thread of the run's: cancelled or timed out, the call is abandoned
        # at once, and a call stuck in user code never keeps the process alive.
        if self.thread_limiter is None:
            return await self.threads.call(self.fn, **arguments)
        async with self.thread_limiter:
            return await self.threads.call(self.fn, **arguments)
