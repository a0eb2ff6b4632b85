"""Retries: the default stamina policy, tenacity's AsyncRetrying, timeouts and Retry-After."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import anyio
import pytest
import stamina
import tenacity

from doteval import ForEach, RetriesExhaustedError, RetryPolicy, Score, foreach
from doteval.evaluators import exact_match

FAST = RetryPolicy(wait_initial=0.001, wait_max=0.01, wait_jitter=0)


class RateLimited(Exception):
    """Shaped like an SDK's 429 error: the response carries status and headers."""

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__("429 Too Many Requests")
        self.status_code = 429
        self.response = type("Response", (), {"status_code": 429, "headers": headers})()


class APIConnectionError(Exception):
    """A client library's connection error, known to doteval by its class name only."""


def _failing(errors: list[BaseException], *, sync: bool = False, **decorator_options):
    """An evaluation over one row that raises ``errors`` in turn, then succeeds."""
    attempts: list[float] = []

    def body() -> Score:
        attempts.append(anyio.current_time() if not sync else 0.0)
        if len(attempts) <= len(errors):
            raise errors[len(attempts) - 1]
        return Score("ok", True)

    if sync:

        @ForEach(**decorator_options)("question", ["q"])
        def evaluate(question):
            return body()

    else:

        @ForEach(**decorator_options)("question", ["q"])
        async def evaluate(question):
            return body()

    return evaluate, attempts


# --- the default policy ------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ConnectionError("reset by peer"),
        TimeoutError("read timed out"),
        OSError(101, "Network is unreachable"),
        RateLimited({}),
        APIConnectionError("connection failed"),
    ],
    ids=lambda error: type(error).__name__,
)
@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
async def test_transient_errors_are_retried(error: Exception, sync: bool) -> None:
    evaluate, attempts = _failing([error], sync=sync, retries=FAST)
    result = await evaluate()
    assert result.counts.errors == 0
    (record,) = result.records
    assert record.attempts == 2
    assert len(attempts) == 2
    assert result.counts.retried == 1


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
async def test_other_errors_are_not_retried(sync: bool) -> None:
    evaluate, attempts = _failing([ValueError("unparseable answer")], sync=sync, retries=FAST)
    result = await evaluate()
    (record,) = result.errors
    assert record.attempts == 1
    assert len(attempts) == 1
    assert record.error is not None
    assert record.error.type == "ValueError"


async def test_exhausted_attempts_keep_the_last_exception() -> None:
    errors = [ConnectionError(f"attempt {n} failed") for n in (1, 2, 3, 4)]
    evaluate, attempts = _failing(errors, retries=FAST)
    result = await evaluate()
    (record,) = result.errors
    assert record.attempts == 3 == len(attempts)
    assert record.error is not None
    assert record.error.type == "ConnectionError"
    assert record.error.message == "attempt 3 failed"


async def test_default_policy() -> None:
    assert RetryPolicy() == RetryPolicy(
        attempts=3, wait_initial=1.0, wait_max=30.0, wait_jitter=1.0, timeout=None
    )


@pytest.mark.parametrize("retries", [0, False, RetryPolicy(attempts=1)])
async def test_retries_can_be_turned_off(retries: object) -> None:
    evaluate, attempts = _failing([ConnectionError("down")], retries=FAST)
    result = await evaluate(retries=retries)
    (record,) = result.errors
    assert record.attempts == 1 == len(attempts)


@pytest.mark.parametrize(("retries", "attempts"), [(1, 2), (4, 5), (True, 3)])
async def test_a_number_of_retries(retries: object, attempts: int) -> None:
    evaluate, calls = _failing([ConnectionError("down")] * 10)
    # An int keeps the default backoff (1 s and up): stamina's test mode skips the waits.
    with stamina.set_testing(True, attempts=100, cap=True):
        result = await evaluate(retries=retries)
    assert result.errors[0].attempts == attempts == len(calls)


async def test_a_custom_predicate() -> None:
    policy = RetryPolicy(
        attempts=4, wait_initial=0.001, wait_jitter=0, on=lambda exc: isinstance(exc, KeyError)
    )
    evaluate, _ = _failing([KeyError("a"), KeyError("b"), ValueError("c")], retries=policy)
    result = await evaluate()
    assert result.errors[0].attempts == 3
    assert result.errors[0].error is not None
    assert result.errors[0].error.type == "ValueError"


def test_bad_policies_fail_clearly() -> None:
    with pytest.raises(ValueError, match="attempts must be a whole number of at least 1"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="wait_initial must be at least 0"):
        RetryPolicy(wait_initial=-1)
    with pytest.raises(ValueError, match="retries must be 0 or more"):
        ForEach(retries=-1)
    with pytest.raises(TypeError, match=r"synchronous tenacity\.Retrying.*AsyncRetrying"):
        ForEach(retries=tenacity.Retrying())


# --- Retry-After --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "at_least"),
    [
        ({"retry-after": "0.2"}, 0.2),
        ({"Retry-After": "0.2"}, 0.2),
        ({"retry-after-ms": "150"}, 0.15),
    ],
)
async def test_retry_after_is_honoured(headers: dict[str, str], at_least: float) -> None:
    policy = RetryPolicy(wait_initial=0.001, wait_max=5, wait_jitter=0)
    evaluate, attempts = _failing([RateLimited(headers)], retries=policy)
    result = await evaluate()
    assert result.counts.errors == 0
    assert attempts[1] - attempts[0] >= at_least * 0.95


async def test_retry_after_is_capped_by_wait_max() -> None:
    evaluate, attempts = _failing([RateLimited({"retry-after": "600"})], retries=FAST)
    with anyio.fail_after(5):
        result = await evaluate()
    assert result.counts.errors == 0
    assert attempts[1] - attempts[0] < 1


# --- backoff is cancellable ----------------------------------------------------------


async def test_cancelling_a_run_in_backoff_returns_promptly() -> None:
    in_backoff = 0

    @ForEach(retries=RetryPolicy(wait_initial=30, wait_max=30, wait_jitter=0))("n", range(20))
    async def evaluate(n):
        nonlocal in_backoff
        in_backoff += 1
        raise ConnectionError("down")

    begin = anyio.current_time()
    with anyio.move_on_after(0.3) as scope:
        await evaluate(max_concurrency=20)
    assert scope.cancelled_caught
    assert in_backoff == 20
    assert anyio.current_time() - begin < 5


# --- tenacity -----------------------------------------------------------------------


async def test_tenacity_instance_is_copied_per_item() -> None:
    entered = 0
    all_in = anyio.Event()
    failed: set[int] = set()

    shared = tenacity.AsyncRetrying(
        retry=tenacity.retry_if_exception_type(ConnectionError),
        stop=tenacity.stop_after_attempt(3),
        wait=tenacity.wait_none(),
    )

    @ForEach(retries=shared)("n", range(50))
    async def evaluate(n):
        nonlocal entered
        if n not in failed:
            entered += 1
            if entered == 50:
                all_in.set()
            await all_in.wait()  # every first attempt is in flight at once
            failed.add(n)
            raise ConnectionError(f"item {n} fails once")
        return Score("ok", True)

    with anyio.fail_after(5):
        result = await evaluate(max_concurrency=50)
    assert result.counts.errors == 0
    assert [record.attempts for record in result.records] == [2] * 50


async def test_tenacity_retry_if_result() -> None:
    class Response:
        status_code = 429

    def should_retry(result: object) -> bool:
        return getattr(result, "status_code", None) == 429

    calls = 0

    @ForEach(
        retries=tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception_type(Exception)
            | tenacity.retry_if_result(should_retry),
            stop=tenacity.stop_after_attempt(10),
            wait=tenacity.wait_none(),
        )
    )("question", ["q"])
    async def evaluate(question):
        nonlocal calls
        calls += 1
        if calls < 3:
            return Response()
        return exact_match(question, "q")

    result = await evaluate()
    assert result.counts.errors == 0
    assert result.records[0].attempts == 3


async def test_exhausted_tenacity_keeps_the_last_exception() -> None:
    errors = [ConnectionError(f"attempt {n}") for n in (1, 2, 3)]
    retries = tenacity.AsyncRetrying(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_none())
    evaluate, _ = _failing(errors, retries=retries)
    result = await evaluate()
    (record,) = result.errors
    assert record.attempts == 3
    assert record.error is not None
    assert record.error.type == "ConnectionError"
    assert record.error.message == "attempt 3"
    assert "RetryError" not in record.error.traceback


async def test_exhausted_tenacity_on_results_says_what_came_back() -> None:
    retries = tenacity.AsyncRetrying(
        retry=tenacity.retry_if_result(lambda result: True),
        stop=tenacity.stop_after_attempt(2),
        wait=tenacity.wait_none(),
    )

    @ForEach(retries=retries)("question", ["q"])
    async def evaluate(question):
        return Score("ok", False)

    (record,) = (await evaluate()).errors
    assert record.attempts == 2
    assert record.error is not None
    assert record.error.type.endswith(RetriesExhaustedError.__name__)
    assert "after 2 attempts" in record.error.message


async def test_tenacity_retries_sync_evaluations_too() -> None:
    retries = tenacity.AsyncRetrying(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_none())
    evaluate, _ = _failing([ConnectionError("once")], sync=True, retries=retries)
    result = await evaluate()
    assert result.records[0].attempts == 2
    assert result.counts.errors == 0


async def test_tenacity_backoff_is_cancellable() -> None:
    retries = tenacity.AsyncRetrying(wait=tenacity.wait_fixed(60))
    evaluate, attempts = _failing([ConnectionError("down")] * 5, retries=retries)
    with anyio.move_on_after(0.2):
        await evaluate()
    assert len(attempts) == 1


# --- per-item timeout ---------------------------------------------------------------


async def test_a_stalled_attempt_is_retried() -> None:
    calls = 0

    @foreach("question", ["q"])
    async def evaluate(question):
        nonlocal calls
        calls += 1
        if calls == 1:
            await anyio.sleep_forever()
        return Score("ok", True)

    result = await evaluate(timeout=0.05, retries=FAST)
    assert result.counts.errors == 0
    assert result.records[0].attempts == 2


async def test_attempts_that_all_stall_become_a_timeout_error_record() -> None:
    @foreach("question", ["q", "r"])
    async def evaluate(question):
        if question == "q":
            await anyio.sleep_forever()
        return Score("ok", True)

    result = await evaluate(timeout=0.05, retries=FAST)
    (record,) = result.errors
    assert record.item_id == 0
    assert record.attempts == 3
    assert record.error is not None
    assert record.error.type.endswith("ItemTimeoutError")
    assert "timed out after 0.05 s" in record.error.message
    assert result.counts.total == 2


# --- imports ------------------------------------------------------------------------


def test_importing_doteval_imports_no_retry_library_or_client() -> None:
    script = textwrap.dedent(
        """
        import sys
        import anyio
        import doteval, doteval.evaluators, doteval.metrics, doteval.concurrency
        import doteval.testing
        from doteval.evaluators import exact_match

        @doteval.foreach("a", [1, 2, 3])
        async def evaluate(a):
            return exact_match(a, a)

        anyio.run(evaluate)  # a run whose first attempts all succeed
        heavy = {"tenacity", "stamina", "httpx", "openai", "anthropic", "aiohttp", "trio"}
        print(sorted(heavy & set(sys.modules)))
        """
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip().splitlines()[-1] == "[]"
