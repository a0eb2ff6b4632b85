"""The happy path of an item is short, and leaving it on a failure loses nothing.

An item that needs no retry, timeout, gate or thread is a bare call of the function
between the worker and the evaluation; the first failure goes on in the retry
machinery as before. A dataset that breaks while read lets the items handed out
before it finish and persist.
"""

from __future__ import annotations

import sys
from typing import Any

import anyio
import pytest

import doteval
from doteval import DatasetError, RetryPolicy, Score, foreach
from doteval.evaluators import exact_match

FAST = RetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.001, wait_jitter=0.0)


def _doteval_frames_above_the_function() -> list[str]:
    """The doteval frames between the strategy's worker and the calling evaluation."""
    frame = sys._getframe(2)  # the evaluation's caller
    names = []
    while frame is not None and frame.f_code.co_name != "_work":
        if "doteval" in frame.f_code.co_filename:
            names.append(frame.f_code.co_name)  # co_qualname is 3.11+
        frame = frame.f_back
    assert frame is not None, "no worker frame above the evaluation"
    return names


async def test_a_plain_item_is_one_frame_below_the_worker() -> None:
    seen: list[list[str]] = []

    @foreach("a", range(3))
    async def eval_plain(a: int) -> Score:
        seen.append(_doteval_frames_above_the_function())
        return exact_match(a, a)

    result = await eval_plain(storage="memory://")
    assert result.counts.total == 3
    assert seen == [["__call__"]] * 3


async def test_timeouts_and_gates_take_the_full_path() -> None:
    seen: list[list[str]] = []

    @foreach("a", range(2))
    async def eval_timed(a: int) -> Score:
        seen.append(_doteval_frames_above_the_function())
        return exact_match(a, a)

    await eval_timed(storage="memory://", timeout=5)
    assert all("_call_with_timeout" in frames for frames in seen), seen


async def test_a_first_failure_goes_on_to_the_retries() -> None:
    calls: dict[int, int] = {}

    @foreach("a", range(6))
    async def eval_flaky(a: int) -> Score:
        calls[a] = calls.get(a, 0) + 1
        if a % 2 and calls[a] == 1:
            raise ConnectionError("reset by peer")  # transient: retried
        return exact_match(a, a)

    result = await eval_flaky(storage="memory://", retries=FAST)
    assert result.summary["exact_match"]["accuracy"] == 1.0
    assert calls == {0: 1, 1: 2, 2: 1, 3: 2, 4: 1, 5: 2}
    attempts = {record.item_id: record.attempts for record in result.records}
    assert attempts == {0: 1, 1: 2, 2: 1, 3: 2, 4: 1, 5: 2}
    assert result.counts.retried == 3


async def test_a_failure_the_policy_does_not_retry_is_the_items_error() -> None:
    @foreach("a", range(2))
    async def eval_broken(a: int) -> Score:
        if a:
            raise ValueError("not a number")  # not transient: recorded at once
        return exact_match(a, a)

    result = await eval_broken(storage="memory://", retries=FAST)
    errors = [record for record in result.records if record.error is not None]
    assert [(record.item_id, record.attempts) for record in errors] == [(1, 1)]
    assert errors[0].error is not None
    assert errors[0].error.type == "ValueError"
    assert errors[0].error.message == "not a number"


async def test_retries_exhausted_keep_the_last_error_without_a_chain() -> None:
    @foreach("a", range(1))
    async def eval_down(a: int) -> Score:
        raise ConnectionError(f"down {a}")

    result = await eval_down(storage="memory://", retries=FAST, stop_after_errors=0)
    (record,) = list(result.records)
    assert record.attempts == 3
    assert record.error is not None
    assert record.error.type == "ConnectionError"
    assert "During handling of the above exception" not in (record.error.traceback or "")


@pytest.mark.parametrize("window", [1, 5, 64])
async def test_a_broken_dataset_lets_the_items_read_before_it_finish(
    window: int, anyio_backend: str
) -> None:
    finished: list[int] = []

    def rows() -> Any:
        yield from range(40)
        raise OSError("the disk went away")

    @foreach("n", rows)
    async def eval_read(n: int) -> Score:
        await anyio.sleep(0)
        finished.append(n)
        return exact_match(n, n)

    url, experiment = "memory://broken-dataset", f"{anyio_backend}-{window}"
    with pytest.raises(DatasetError, match=r"reading row 40 .*the items before it were"):
        await eval_read(storage=url, experiment=experiment, max_concurrency=window)
    assert sorted(finished) == list(range(40))
    stored = doteval.load(experiment, storage=url)
    assert stored.counts.total == 40
