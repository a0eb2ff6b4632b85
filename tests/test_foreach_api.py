"""The public shape of ``foreach`` and ``ForEach``: decorating, calling, option precedence."""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading

import anyio
import pytest

import doteval
from doteval import Evaluation, ForEach, RetryPolicy, Score, foreach
from doteval._private.api.options import RunOptions, session_options
from doteval.concurrency import (
    RateLimitedStrategy,
    SequentialStrategy,
    SlidingWindowStrategy,
)
from doteval.evaluators import exact_match
from in_flight import InFlight

DATASET = [("What is 2+2?", "4"), ("What is 3+3?", "6"), ("What is 1+1?", "2")]
BACKENDS = ["asyncio", "trio"]


class EchoModel:
    """Answers every question with the answer found in its table."""

    def __init__(self) -> None:
        self.table = {"What is 2+2?": "4", "What is 3+3?": "6", "What is 1+1?": "2"}
        self.calls = 0

    async def generate(self, prompt: str) -> str:
        self.calls += 1
        await anyio.lowlevel.checkpoint()
        return self.table[prompt]


@foreach("question,answer", DATASET)
async def eval_async_math(question, answer, model):
    """Checks the model's arithmetic."""
    return exact_match(await model.generate(question), answer)


@foreach("question,answer", DATASET)
def eval_sync_math(question, answer):
    """A plain function works too."""
    return exact_match(answer, answer)


# --- decorating -------------------------------------------------------------------


def test_evaluation_keeps_name_module_and_docstring() -> None:
    assert isinstance(eval_async_math, Evaluation)
    assert eval_async_math.__name__ == "eval_async_math"
    assert eval_async_math.__qualname__ == "eval_async_math"
    assert eval_async_math.__module__ == __name__
    assert eval_async_math.__doc__ == "Checks the model's arithmetic."
    assert eval_sync_math.__name__ == "eval_sync_math"
    assert eval_sync_math.__doc__ == "A plain function works too."
    assert "eval_async_math" in repr(eval_async_math)


def test_calling_returns_a_coroutine() -> None:
    for call in (eval_async_math(model=EchoModel()), eval_sync_math()):
        assert inspect.iscoroutine(call)
        call.close()


@pytest.mark.parametrize(
    "decorator",
    [
        foreach,
        ForEach(),
        ForEach(concurrency=SlidingWindowStrategy(max_concurrency=2)),
        ForEach(retries=RetryPolicy(attempts=2, wait_initial=0.001, wait_jitter=0)),
        ForEach(concurrency=SequentialStrategy(), retries=0),
    ],
    ids=["foreach", "ForEach()", "concurrency", "retries", "both"],
)
async def test_decorators_take_sync_and_async_functions(decorator: ForEach) -> None:
    @decorator("question,answer", DATASET)
    async def async_eval(question, answer):
        await anyio.lowlevel.checkpoint()
        return exact_match(answer, answer)

    @decorator("question,answer", DATASET)
    def sync_eval(question, answer):
        return exact_match(question, answer)

    async_result = await async_eval()
    sync_result = await sync_eval()
    assert async_result.summary == {"exact_match": {"accuracy": 1.0}}
    assert sync_result.summary == {"exact_match": {"accuracy": 0.0}}
    assert async_result.counts.total == sync_result.counts.total == 3


# --- calling ------------------------------------------------------------------------


async def test_await_with_extra_keyword_arguments() -> None:
    model = EchoModel()
    result = await eval_async_math(model=model, max_concurrency=2)
    assert result.summary == {"exact_match": {"accuracy": 1.0}}
    assert model.calls == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_anyio_run_with_no_arguments(backend: str) -> None:
    result = anyio.run(eval_sync_math, backend=backend)
    assert result.summary == {"exact_match": {"accuracy": 1.0}}


@pytest.mark.parametrize("backend", BACKENDS)
def test_anyio_run_with_partial(backend: str) -> None:
    model = EchoModel()
    result = anyio.run(functools.partial(eval_async_math, model=model), backend=backend)
    assert result.counts.total == 3
    assert model.calls == 3


async def test_start_soon_in_a_task_group() -> None:
    model = EchoModel()
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(functools.partial(eval_async_math, model=model))
        task_group.start_soon(eval_sync_math)
    assert model.calls == 3


def test_asyncio_create_task() -> None:
    async def main() -> doteval.EvaluationResult:
        model = EchoModel()
        task = asyncio.create_task(eval_async_math(model=model))
        result = await task
        assert model.calls == 3
        return result

    assert asyncio.run(main()).summary == {"exact_match": {"accuracy": 1.0}}


# --- bad declarations and calls ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(doteval.RESERVED_OPTIONS))
def test_reserved_parameter_name_fails_at_decoration(name: str) -> None:
    source = f"def evaluate(question, {name}):\n    pass\n"
    namespace: dict[str, object] = {}
    exec(source, namespace)
    with pytest.raises(TypeError, match=rf"evaluate has parameter\(s\) named {name}.*reserves"):
        foreach("question", ["q"])(namespace["evaluate"])  # type: ignore[arg-type]


def test_reserved_names_include_the_documented_options() -> None:
    documented = {
        "max_concurrency",
        "samples",
        "concurrency",
        "retries",
        "timeout",
        "experiment",
        "storage",
        "progress",
    }
    assert documented <= doteval.RESERVED_OPTIONS


def test_column_without_parameter_fails_at_decoration() -> None:
    with pytest.raises(TypeError, match=r"no parameter for column\(s\) answer"):

        @foreach("question,answer", DATASET)
        async def evaluate(question):
            pass


def test_kwargs_function_takes_any_column() -> None:
    @foreach("question,answer", DATASET)
    def evaluate(**row):
        return exact_match(row["answer"], "4")

    result = anyio.run(evaluate)
    assert result.summary == {"exact_match": {"accuracy": pytest.approx(1 / 3)}}


@pytest.mark.parametrize("columns", ["", "question,", "1st", "a b", "question,question"])
def test_bad_columns_fail_at_decoration(columns: str) -> None:
    with pytest.raises(ValueError, match="column"):
        foreach(columns, DATASET)


def test_decorating_twice_fails() -> None:
    with pytest.raises(TypeError, match="already decorated"):
        foreach("question,answer", DATASET)(eval_sync_math)


def test_unknown_foreach_option_fails() -> None:
    with pytest.raises(TypeError, match=r"unknown option.*max_concurency"):
        ForEach(max_concurency=3)


def test_bad_concurrency_fails_at_decoration() -> None:
    with pytest.raises(TypeError, match=r"concurrency=.*execute"):
        ForEach(concurrency=5)


def test_bad_retries_fails_at_decoration() -> None:
    with pytest.raises(TypeError, match="retries= takes"):
        ForEach(retries="often")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_concurrency": 0}, "max_concurrency must be a whole number of at least 1"),
        ({"max_concurrency": 2.5}, "max_concurrency"),
        ({"samples": -1}, "samples must be a whole number of at least 0"),
        ({"timeout": 0}, "timeout must be a number of seconds above 0"),
        ({"progress": "yes"}, "progress must be True or False"),
    ],
)
async def test_bad_option_values_fail_with_the_option_named(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        await eval_sync_math(**options)


async def test_misspelt_argument_fails_once_and_clearly() -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) 'modle'"):
        await eval_async_math(modle=EchoModel())


async def test_missing_argument_fails_once_and_clearly() -> None:
    with pytest.raises(TypeError, match=r"needs 'model'.*pass model=\.\.\."):
        await eval_async_math()


async def test_column_passed_as_argument_fails() -> None:
    with pytest.raises(TypeError, match=r"'answer'.*the dataset fills question, answer"):
        await eval_async_math(model=EchoModel(), answer="4")


# --- precedence: call > session (command line / ini) > decorator > default ------------


def _counting_eval(decorator: ForEach) -> Evaluation:
    @decorator("n", range(20))
    def count(n):
        return Score("seen", True)

    return count


async def test_precedence_of_options() -> None:
    default = _counting_eval(foreach)
    decorated = _counting_eval(ForEach(samples=5))

    assert (await default()).counts.total == 20
    assert (await decorated()).counts.total == 5
    token = session_options.set(RunOptions(samples=3))
    try:
        assert (await default()).counts.total == 3
        assert (await decorated()).counts.total == 3
        assert (await decorated(samples=1)).counts.total == 1
    finally:
        session_options.reset(token)
    assert (await decorated(samples=2)).counts.total == 2


# --- max_concurrency -------------------------------------------------------------------


@pytest.mark.parametrize(
    "strategy",
    [
        SlidingWindowStrategy(max_concurrency=2),
        SequentialStrategy(),
        RateLimitedStrategy(max_concurrency=2, requests_per_second=10_000, burst=100),
    ],
    ids=["sliding", "sequential", "rate-limited"],
)
async def test_max_concurrency_resizes_builtin_strategies(strategy: object) -> None:
    peak = InFlight(target=6)

    @ForEach(concurrency=strategy)("n", range(12))
    async def evaluate(n):
        await peak.visit()
        return Score("ok", True)

    with anyio.fail_after(5):
        result = await evaluate(max_concurrency=6)
    assert peak.peak == 6
    assert result.counts.errors == 0


async def test_max_concurrency_applies_to_sync_evaluations() -> None:
    barrier = threading.Barrier(4, timeout=5)
    running = 0
    peak = 0
    lock = threading.Lock()

    @foreach("n", range(8))
    def evaluate(n):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            barrier.wait()  # breaks (an error record) unless 4 run together
        finally:
            with lock:
                running -= 1
        return Score("ok", True)

    result = await evaluate(max_concurrency=4)
    assert result.counts.errors == 0
    assert peak == 4


class _UserStrategy:
    async def execute(self, tasks, progress_callback=None):
        async for task in tasks:
            yield await task()


def test_max_concurrency_with_a_user_strategy_is_an_error() -> None:
    evaluate = _counting_eval(ForEach(concurrency=_UserStrategy()))
    assert anyio.run(evaluate).counts.total == 20
    with pytest.raises(ValueError, match=r"max_concurrency=3 cannot resize _UserStrategy"):
        anyio.run(functools.partial(evaluate, max_concurrency=3))
