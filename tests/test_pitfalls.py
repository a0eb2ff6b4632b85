"""The spec's two common pitfalls: a forgotten ``await`` and a blocking call in async code."""

from __future__ import annotations

import time
import warnings

import anyio
import pytest

from doteval import BlockingEvaluationWarning, Score, foreach
from doteval.evaluators import contains, evaluator, exact_match, numeric_match, valid_json


class Model:
    async def generate(self, question: str) -> str:
        await anyio.lowlevel.checkpoint()
        return "4"


# --- a forgotten await ------------------------------------------------------------


async def test_a_forgotten_await_becomes_an_error_record_that_says_so() -> None:
    model = Model()

    @foreach("question,answer", [("What is 2+2?", "4")])
    async def eval_not_awaited(question, answer):
        result = model.generate(question)  # Missing await!
        return exact_match(result, answer)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "coroutine ... was never awaited" either
        result = await eval_not_awaited()
    (record,) = result.errors
    assert record.error is not None
    assert record.error.type == "TypeError"
    assert "exact_match() received a coroutine object" in record.error.message
    assert "forget `await`" in record.error.message


@pytest.mark.parametrize(
    "call",
    [
        lambda c: exact_match(c, "4"),
        lambda c: exact_match("4", expected=c),
        lambda c: numeric_match(c, 4),
        lambda c: valid_json(c),
        lambda c: contains(c, "4", case_sensitive=False),
    ],
    ids=["exact_match", "keyword", "numeric_match", "valid_json", "contains"],
)
def test_every_evaluator_rejects_a_coroutine(call) -> None:
    coroutine = Model().generate("q")
    with pytest.raises(TypeError, match="did you forget `await`"):
        call(coroutine)
    assert coroutine.cr_frame is None  # closed: no "never awaited" warning later


def test_custom_evaluators_reject_a_coroutine_too() -> None:
    @evaluator()
    def shorter_than(text, limit):
        return len(text) < limit

    with pytest.raises(TypeError, match=r"shorter_than\(\) received a coroutine"):
        shorter_than(Model().generate("q"), 10)


async def test_a_sync_evaluation_returning_a_coroutine_is_explained() -> None:
    @foreach("question", ["q"])
    def evaluate(question):
        return Model().generate(question)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (record,) = (await evaluate()).errors
    assert record.error is not None
    assert "a coroutine: define the evaluation with `async def`" in record.error.message


# --- blocking the event loop ------------------------------------------------------


async def test_a_blocking_async_evaluation_is_warned_about_once() -> None:
    @foreach("question,answer", [("q1", "a"), ("q2", "a")])
    async def eval_blocking(question, answer):
        time.sleep(0.8)  # Blocks!
        return exact_match(answer, answer)

    with pytest.warns(BlockingEvaluationWarning) as caught:
        result = await eval_blocking(max_concurrency=2)
    assert result.counts.errors == 0
    blocking = [w for w in caught if issubclass(w.category, BlockingEvaluationWarning)]
    assert len(blocking) == 1
    message = str(blocking[0].message)
    assert "eval_blocking" in message
    assert "anyio.to_thread" in message


async def test_the_threshold_is_configurable() -> None:
    @foreach("question", ["q"])
    async def short_block(question):
        time.sleep(0.3)  # under the default 0.5 s, over 0.1 s
        return Score("ok", True)

    with warnings.catch_warnings(record=True) as quiet:
        warnings.simplefilter("always")
        await short_block()
    assert not [w for w in quiet if issubclass(w.category, BlockingEvaluationWarning)]

    with pytest.warns(BlockingEvaluationWarning, match="short_block"):
        await short_block(blocking_threshold=0.1)


async def test_a_raised_threshold_silences_the_warning() -> None:
    @foreach("question", ["q"])
    async def long_block(question):
        time.sleep(0.6)
        return Score("ok", True)

    with warnings.catch_warnings(record=True) as quiet:
        warnings.simplefilter("always")
        await long_block(blocking_threshold=2)
    assert not [w for w in quiet if issubclass(w.category, BlockingEvaluationWarning)]


async def test_well_behaved_evaluations_get_no_warning() -> None:
    @foreach("n", range(200))
    async def evaluate(n):
        await anyio.sleep(0.001)
        await anyio.to_thread.run_sync(time.sleep, 0.001)
        return Score("ok", True)

    with warnings.catch_warnings(record=True) as quiet:
        warnings.simplefilter("always")
        await evaluate(max_concurrency=20)
    assert not [w for w in quiet if issubclass(w.category, BlockingEvaluationWarning)]
