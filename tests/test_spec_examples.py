"""The user's page, async-evaluations.md, runs: every Python example, on asyncio and trio.

Each example below is copied verbatim from the page (the tests never read the page
itself). A reader pastes the examples in order into one session, so each test
runs the page's first example and then the ones it builds on, in one namespace
that also holds the fakes of ``spec_fakes`` for the names the page assumes
(``async_model``, ``api_call``, ...). Then it calls the evaluation the example
defines and checks the result.

On asyncio every example runs verbatim. Examples that use no asyncio API run
verbatim on trio too; for the others the test runs the anyio port in
``TRIO_PORTS``. ``SKIPPED`` and ``MODIFIED`` list every example that is not run
here (and where it is run instead), or not run exactly as written, with the reason;
docs/async.md repeats that list.
"""

from __future__ import annotations

import asyncio
import functools
import re
import textwrap
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
import trio.testing

import doteval
from doteval.concurrency import AsyncConcurrencyStrategy, RateLimitedStrategy, SlidingWindowStrategy
from spec_fakes import VirtualTimeLoop, answer_server, page_names, server_url

BACKENDS = ["asyncio", "trio"]

SPEC: dict[str, str] = {
    "basic": """\
import asyncio
import doteval
from doteval.evaluators import exact_match

dataset = [("What is 2+2?", "4"), ("What is 3+3?", "6")]

@doteval.foreach("question,answer", dataset)
async def eval_async_math(question, answer):
    # Simulate async model call
    await asyncio.sleep(0.1)
    result = await async_model.generate(question)
    return exact_match(result, answer)
""",
    "sliding_window": """\
from doteval import ForEach
from doteval.concurrency import SlidingWindowStrategy

# Configure sliding window concurrency
sliding_window = SlidingWindowStrategy(max_concurrency=20)
foreach = ForEach(concurrency=sliding_window)

@foreach("question,answer", dataset)
async def eval_with_strategy(question, answer):
    result = await async_model.generate(question)
    return exact_match(result, answer)
""",
    "programmatic": """\
import asyncio

async def main():
    result = await eval_async_math(max_concurrency=10)
    print(f"Accuracy: {result.summary['exact_match']['accuracy']}")

asyncio.run(main())
""",
    "openai": """\
import openai
import doteval
from doteval.evaluators import exact_match

client = openai.AsyncOpenAI()

@doteval.foreach("question,answer", dataset)
async def eval_openai_async(question, answer):
    response = await client.chat.completions.create(
        model="gpt-3.5-turbo",
        messages=[{"role": "user", "content": question}]
    )
    result = response.choices[0].message.content
    return exact_match(result, answer)
""",
    "anthropic": """\
import anthropic
import doteval

client = anthropic.AsyncAnthropic()

@doteval.foreach("question,answer", dataset)
async def eval_anthropic_async(question, answer):
    response = await client.messages.create(
        model="claude-3-sonnet-20240229",
        messages=[{"role": "user", "content": question}]
    )
    result = response.content[0].text
    return exact_match(result, answer)
""",
    "custom_async_model": """\
class AsyncModel:
    async def generate(self, prompt: str) -> str:
        # Your async model implementation
        await asyncio.sleep(0.1)  # Simulate API call
        return "model response"

model = AsyncModel()

@doteval.foreach("question,answer", dataset)
async def eval_custom_async(question, answer):
    result = await model.generate(question)
    return exact_match(result, answer)
""",
    "internal_implementation": """\
# Internal implementation (for reference)
async def _run_evaluation_async(eval_fn, dataset, max_concurrency):
    pending_tasks = set()

    # Fill initial window
    for _ in range(max_concurrency):
        if dataset_item := next(dataset, None):
            task = asyncio.create_task(eval_fn(*dataset_item))
            pending_tasks.add(task)

    # Process completed tasks and start new ones
    while pending_tasks:
        done, pending_tasks = await asyncio.wait(
            pending_tasks, return_when=asyncio.FIRST_COMPLETED
        )

        for task in done:
            result = await task
            # Process result...

            # Start new task if dataset has more items
            if dataset_item := next(dataset, None):
                new_task = asyncio.create_task(eval_fn(*dataset_item))
                pending_tasks.add(new_task)
""",
    "rate_limiting": '''\
from doteval.concurrency import AsyncConcurrencyStrategy
from doteval import ForEach
import asyncio
from typing import AsyncIterator, Callable, TypeVar

T = TypeVar('T')

class RateLimitedStrategy:
    """Concurrency strategy with built-in rate limiting."""

    def __init__(self, max_concurrency: int, requests_per_second: float):
        self.max_concurrency = max_concurrency
        self.requests_per_second = requests_per_second
        self.min_interval = 1.0 / requests_per_second

    async def execute(
        self,
        tasks: AsyncIterator[Callable[[], T]],
        progress_callback: Callable[[T], None] | None = None
    ) -> AsyncIterator[T]:
        last_request_time = 0
        pending = set()

        async for task in tasks:
            # Enforce rate limit
            current_time = asyncio.get_event_loop().time()
            time_since_last = current_time - last_request_time
            if time_since_last < self.min_interval:
                await asyncio.sleep(self.min_interval - time_since_last)

            # Manage concurrency
            if len(pending) >= self.max_concurrency:
                done, pending = await asyncio.wait(
                    pending, return_when=asyncio.FIRST_COMPLETED
                )
                for completed in done:
                    result = await completed
                    if progress_callback:
                        progress_callback(result)
                    yield result

            pending.add(asyncio.create_task(task()))
            last_request_time = asyncio.get_event_loop().time()

        # Process remaining tasks
        while pending:
            done, pending = await asyncio.wait(
                pending, return_when=asyncio.FIRST_COMPLETED
            )
            for completed in done:
                result = await completed
                if progress_callback:
                    progress_callback(result)
                yield result

# Use the rate-limited strategy
rate_limited = RateLimitedStrategy(max_concurrency=10, requests_per_second=5)
foreach = ForEach(concurrency=rate_limited)

@foreach("question,answer", dataset)
async def eval_rate_limited(question, answer):
    result = await api_call(question)
    return exact_match(result, answer)
''',
    "custom_retry": """\
from tenacity import AsyncRetrying, stop_after_attempt, wait_fixed, retry_if_exception_type
from doteval import ForEach
import aiohttp

# Custom retry for specific API errors
api_retries = AsyncRetrying(
    retry=retry_if_exception_type((aiohttp.ClientError, TimeoutError)),
    stop=stop_after_attempt(5),
    wait=wait_fixed(2)  # Fixed 2-second delay between retries
)

foreach = ForEach(retries=api_retries)

@foreach("question,answer", dataset)
async def eval_with_custom_retry(question, answer):
    # Will retry up to 5 times on aiohttp.ClientError or TimeoutError
    result = await api_client.generate(question)
    return exact_match(result, answer)
""",
    "advanced_retry": '''\
from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential, retry_if_result

# Retry on specific conditions
def should_retry(result):
    """Retry if the API returns a rate limit response."""
    return hasattr(result, 'status_code') and result.status_code == 429

custom_retries = AsyncRetrying(
    retry=(retry_if_exception_type(Exception) | retry_if_result(should_retry)),
    stop=stop_after_attempt(10),
    wait=wait_exponential(multiplier=1, min=4, max=60)
)

foreach = ForEach(retries=custom_retries)
''',
    "error_handling": """\
@doteval.foreach("question,answer", dataset)
async def eval_with_error_handling(question, answer):
    try:
        result = await unreliable_api_call(question)
        return exact_match(result, answer)
    except Exception as e:
        # Error is captured in evaluation results
        raise e  # Re-raise to be handled by doteval
""",
    "batch": """\
@doteval.foreach("questions,answers", batched_dataset)
async def eval_batch(questions, answers):
    # Process batch of questions together
    results = await model.generate_batch(questions)
    scores = [exact_match(result, answer)
              for result, answer in zip(results, answers)]
    return scores
""",
    "connection_pooling": """\
import aiohttp

async def create_session():
    connector = aiohttp.TCPConnector(limit=100)
    return aiohttp.ClientSession(connector=connector)

session = await create_session()

@doteval.foreach("question,answer", dataset)
async def eval_with_session(question, answer):
    async with session.post("https://api.example.com", json={"prompt": question}) as resp:
        result = await resp.json()
        return exact_match(result["text"], answer)
""",
    "progress": """\
from tqdm.asyncio import tqdm

@doteval.foreach("question,answer", dataset)
async def eval_with_progress(question, answer):
    result = await model.generate(question)
    # Progress automatically tracked by doteval
    return exact_match(result, answer)
""",
    "resource_monitoring": """\
import psutil
import asyncio

async def monitor_resources():
    while True:
        cpu_percent = psutil.cpu_percent()
        memory_percent = psutil.virtual_memory().percent
        print(f"CPU: {cpu_percent}%, Memory: {memory_percent}%")
        await asyncio.sleep(10)

# Run monitoring alongside evaluations
async def main():
    monitor_task = asyncio.create_task(monitor_resources())
    eval_task = asyncio.create_task(eval_async_math())

    result = await eval_task
    monitor_task.cancel()
    return result
""",
    "api_rate_limits": """\
# Respect API rate limits
@doteval.foreach("question,answer", dataset)
async def eval_api_limited(question, answer):
    # Add delays for rate limiting
    await asyncio.sleep(0.1)  # 10 requests per second
    result = await api_call(question)
    return exact_match(result, answer)
""",
    "resource_cleanup": """\
class AsyncModel:
    async def __aenter__(self):
        self.client = await create_client()
        return self

    async def __aexit__(self, exc_type, exc_val, exc_tb):
        await self.client.close()

async with AsyncModel() as model:
    @doteval.foreach("question,answer", dataset)
    async def eval_with_cleanup(question, answer):
        result = await model.generate(question)
        return exact_match(result, answer)

    result = await eval_with_cleanup()
""",
    "memory_management": """\
# For large datasets, use generators to avoid loading everything into memory
def stream_dataset():
    for i in range(1000000):
        yield (f"Question {i}", f"Answer {i}")

@doteval.foreach("question,answer", stream_dataset())
async def eval_streaming(question, answer):
    result = await model.generate(question)
    return exact_match(result, answer)
""",
    "pitfall_blocking": """\
# ❌ Wrong - blocks the event loop
@doteval.foreach("question,answer", dataset)
async def eval_blocking(question, answer):
    result = synchronous_model.generate(question)  # Blocks!
    return exact_match(result, answer)

# ✅ Correct - use thread pool for blocking calls
import asyncio
from concurrent.futures import ThreadPoolExecutor

executor = ThreadPoolExecutor(max_workers=4)

@doteval.foreach("question,answer", dataset)
async def eval_non_blocking(question, answer):
    loop = asyncio.get_event_loop()
    result = await loop.run_in_executor(
        executor, synchronous_model.generate, question
    )
    return exact_match(result, answer)
""",
    "pitfall_await": """\
# ❌ Wrong - returns coroutine object
@doteval.foreach("question,answer", dataset)
async def eval_not_awaited(question, answer):
    result = model.generate(question)  # Missing await!
    return exact_match(result, answer)

# ✅ Correct
@doteval.foreach("question,answer", dataset)
async def eval_awaited(question, answer):
    result = await model.generate(question)
    return exact_match(result, answer)
""",
    "profiling": """\
import time

@doteval.foreach("question,answer", dataset)
async def eval_with_timing(question, answer):
    start_time = time.time()
    result = await model.generate(question)
    duration = time.time() - start_time

    score = exact_match(result, answer)
    score.metadata["duration"] = duration
    return score
""",
}
"""The page's Python examples, verbatim, in page order."""

COMMANDS: dict[str, str] = {
    "cli_max_concurrency": """\
pytest eval_async.py --max-concurrency 20
""",
    "cli_samples": """\
# Async evaluations work seamlessly with pytest
pytest eval_async.py --samples 1000
""",
}
"""The page's shell commands (test_pytest_plugin.py runs them)."""

TRIO_PORTS: dict[str, str] = {
    "basic": """\
import anyio
import doteval
from doteval.evaluators import exact_match

dataset = [("What is 2+2?", "4"), ("What is 3+3?", "6")]

@doteval.foreach("question,answer", dataset)
async def eval_async_math(question, answer):
    # Simulate async model call
    await anyio.sleep(0.1)
    result = await async_model.generate(question)
    return exact_match(result, answer)
""",
    "programmatic": """\
import anyio

async def main():
    result = await eval_async_math(max_concurrency=10)
    print(f"Accuracy: {result.summary['exact_match']['accuracy']}")

anyio.run(main, backend="trio")
""",
    "custom_async_model": """\
class AsyncModel:
    async def generate(self, prompt: str) -> str:
        # Your async model implementation
        await anyio.sleep(0.1)  # Simulate API call
        return "model response"

model = AsyncModel()

@doteval.foreach("question,answer", dataset)
async def eval_custom_async(question, answer):
    result = await model.generate(question)
    return exact_match(result, answer)
""",
    "rate_limiting": """\
from doteval import ForEach
from doteval.concurrency import RateLimitedStrategy

# Use the rate-limited strategy
rate_limited = RateLimitedStrategy(max_concurrency=10, requests_per_second=5)
foreach = ForEach(concurrency=rate_limited)

@foreach("question,answer", dataset)
async def eval_rate_limited(question, answer):
    result = await api_call(question)
    return exact_match(result, answer)
""",
    "connection_pooling": """\
import httpx

async def create_session():
    limits = httpx.Limits(max_connections=100)
    return httpx.AsyncClient(limits=limits, trust_env=False)

session = await create_session()

@doteval.foreach("question,answer", dataset)
async def eval_with_session(question, answer):
    resp = await session.post("https://api.example.com", json={"prompt": question})
    result = resp.json()
    return exact_match(result["text"], answer)
""",
    "resource_monitoring": """\
import psutil
import anyio

async def monitor_resources():
    while True:
        cpu_percent = psutil.cpu_percent()
        memory_percent = psutil.virtual_memory().percent
        print(f"CPU: {cpu_percent}%, Memory: {memory_percent}%")
        await anyio.sleep(10)

# Run monitoring alongside evaluations
async def main():
    async with anyio.create_task_group() as tg:
        tg.start_soon(monitor_resources)
        result = await eval_async_math()
        tg.cancel_scope.cancel()
    return result
""",
    "api_rate_limits": """\
# Respect API rate limits
@doteval.foreach("question,answer", dataset)
async def eval_api_limited(question, answer):
    # Add delays for rate limiting
    await anyio.sleep(0.1)  # 10 requests per second
    result = await api_call(question)
    return exact_match(result, answer)
""",
    "pitfall_blocking": """\
# ❌ Wrong - blocks the event loop
@doteval.foreach("question,answer", dataset)
async def eval_blocking(question, answer):
    result = synchronous_model.generate(question)  # Blocks!
    return exact_match(result, answer)

# ✅ Correct - run blocking calls in a worker thread
import anyio

@doteval.foreach("question,answer", dataset)
async def eval_non_blocking(question, answer):
    result = await anyio.to_thread.run_sync(synchronous_model.generate, question)
    return exact_match(result, answer)
""",
}
"""anyio copies of the examples that use asyncio (or aiohttp, which needs asyncio)."""

SKIPPED: dict[str, str] = {
    "cli_max_concurrency": "a shell command: test_pytest_plugin.py::test_the_spec_commands "
    "runs `pytest eval_async.py --max-concurrency 20`",
    "cli_samples": "a shell command: test_pytest_plugin.py::test_the_spec_commands runs "
    "`pytest eval_async.py --samples 1000`",
    "openai": "needs the openai client and a server: test_llm_clients.py runs it as written "
    "against a local fake LLM server",
    "anthropic": "needs the anthropic client and a server: test_llm_clients.py runs it against "
    "a local fake LLM server, as written (every item fails: the real client requires "
    "max_tokens) and with max_tokens=1024 added",
    "internal_implementation": "not user code: the page shows it for reference (doteval's "
    "engine is an anyio task group with memory object streams instead)",
}
"""Examples that are not run here: why, and where they are run instead."""

MODIFIED: dict[str, str] = {
    "basic": "trio runs an anyio port (anyio.sleep for asyncio.sleep)",
    "programmatic": "trio runs an anyio port (anyio.run(main, backend='trio'))",
    "custom_async_model": "trio runs an anyio port (anyio.sleep for asyncio.sleep)",
    "rate_limiting": "runs as written on asyncio; trio runs doteval's built-in "
    "RateLimitedStrategy with the same arguments (the custom class uses asyncio tasks)",
    "connection_pooling": "posts to a local test server on 127.0.0.1 instead of "
    "https://api.example.com, runs inside `async def main()` and closes the session "
    "at the end (the page never does); trio runs an httpx port (aiohttp needs asyncio)",
    "resource_monitoring": "trio runs an anyio port (a task group and its cancel scope "
    "instead of asyncio tasks)",
    "api_rate_limits": "trio runs an anyio port (anyio.sleep for asyncio.sleep)",
    "resource_cleanup": "runs inside `async def main()`; the page's AsyncModel has no "
    "generate method, so every item of the verbatim example is an AttributeError "
    "error record: a second run adds one",
    "memory_management": "runs with samples=100 of the 1,000,000 streamed rows",
    "pitfall_blocking": "trio runs an anyio port (anyio.to_thread.run_sync for "
    "run_in_executor); the test lowers the blocking-warning threshold to 0.05 s",
    "advanced_retry": "defines no evaluation: the test adds one that uses its `foreach`, "
    "with a fake client that first answers 429, then raises, then succeeds; the waits "
    "pass on a virtual clock",
    "custom_retry": "runs with a fake api_client that fails once per question; the "
    "2-second waits pass on a virtual clock",
}
"""Examples that run with a change, and what changed."""

TITLES: dict[str, str] = {
    "basic": "Basic Async Evaluation",
    "cli_max_concurrency": "Using Command Line Options",
    "sliding_window": "Using Custom Concurrency Strategies",
    "cli_samples": "With pytest",
    "programmatic": "Programmatically",
    "openai": "OpenAI Async Client",
    "anthropic": "Anthropic Async Client",
    "custom_async_model": "Custom Async Model",
    "internal_implementation": "Sliding Window Concurrency",
    "rate_limiting": "Rate Limiting",
    "custom_retry": "Custom Retry Strategy",
    "advanced_retry": "Advanced Retry Configuration",
    "error_handling": "Error Handling",
    "batch": "Batch Processing",
    "connection_pooling": "Connection Pooling",
    "progress": "Progress Tracking",
    "resource_monitoring": "Resource Monitoring",
    "api_rate_limits": "API Rate Limits",
    "resource_cleanup": "Resource Cleanup",
    "memory_management": "Memory Management",
    "pitfall_blocking": "Common Pitfalls: blocking calls",
    "pitfall_await": "Common Pitfalls: not awaiting",
    "profiling": "Performance Profiling",
}
"""The page's section for each example, as docs/async.md names it."""


class Page:
    """The page as a reader on ``backend`` runs it: examples share one namespace."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.names: dict[str, Any] = {"__name__": "spec_page", **page_names()}
        self.exec("basic")  # the page's first example: its imports and dataset

    def source(self, example: str) -> str:
        if self.backend == "trio":
            return TRIO_PORTS.get(example, SPEC[example])
        return SPEC[example]

    def exec(self, example: str, code: str | None = None) -> None:
        code = self.source(example) if code is None else code
        exec(compile(code, f"<spec example {example}>", "exec"), self.names)

    def __getitem__(self, name: str) -> Any:
        return self.names[name]

    def run(self, fn: Callable[..., Awaitable[Any]], *, virtual_time: bool = False) -> Any:
        """Run ``fn()`` on the page's backend, as ``asyncio.run``/``anyio.run`` would.

        ``virtual_time`` jumps the clock over sleeps, so verbatim multi-second
        retry waits pass at once.
        """
        if self.backend == "asyncio":
            if virtual_time:
                return anyio.run(
                    fn, backend="asyncio", backend_options={"loop_factory": VirtualTimeLoop}
                )
            return asyncio.run(fn())
        options = {"clock": trio.testing.MockClock(autojump_threshold=0)} if virtual_time else {}
        return anyio.run(fn, backend="trio", backend_options=options)

    def timed(self, fn: Callable[[], Awaitable[Any]], **kwargs: Any) -> tuple[Any, float]:
        """``fn()``'s result and how long it took on the event loop's clock."""

        async def measure() -> tuple[Any, float]:
            start = anyio.current_time()
            value = await fn()
            return value, anyio.current_time() - start

        return self.run(measure, **kwargs)


def as_main(code: str, driver: str) -> str:
    """A top-level ``await`` snippet as the body of ``async def main()``, then ``driver``."""
    return "async def main():\n" + textwrap.indent(code + driver, "    ")


def assert_all_correct(result: doteval.EvaluationResult, total: int = 2) -> None:
    assert result.summary == {"exact_match": {"accuracy": 1.0}}
    assert (result.counts.total, result.counts.errors) == (total, 0)


parametrize_backend = pytest.mark.parametrize("backend", BACKENDS)


# --- the examples --------------------------------------------------------------------


@parametrize_backend
def test_basic(backend: str) -> None:
    page = Page(backend)
    assert_all_correct(page.run(page["eval_async_math"]))
    assert page["async_model"].calls == 2


@parametrize_backend
def test_sliding_window(backend: str) -> None:
    page = Page(backend)
    page.exec("sliding_window")
    assert page["foreach"].concurrency == SlidingWindowStrategy(max_concurrency=20)
    assert_all_correct(page.run(page["eval_with_strategy"]))


@parametrize_backend
def test_programmatic(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    page = Page(backend)
    page.exec("programmatic")  # the example runs itself: asyncio.run(main())
    assert capsys.readouterr().out == "Accuracy: 1.0\n"


@parametrize_backend
def test_custom_async_model(backend: str) -> None:
    page = Page(backend)
    page.exec("custom_async_model")
    result = page.run(page["eval_custom_async"])
    assert result.summary == {"exact_match": {"accuracy": 0.0}}  # it always says "model response"
    assert (result.counts.total, result.counts.errors) == (2, 0)


@parametrize_backend
def test_rate_limiting(backend: str) -> None:
    page = Page(backend)
    page.exec("rate_limiting")
    strategy = page["rate_limited"]
    if backend == "asyncio":
        assert not isinstance(strategy, RateLimitedStrategy)  # the page's own class
        assert isinstance(strategy, AsyncConcurrencyStrategy)
    else:
        assert isinstance(strategy, RateLimitedStrategy)
    assert_all_correct(page.run(page["eval_rate_limited"]))
    first, second = page["api_call"].started
    assert second - first >= 0.18  # 5 requests per second: 0.2 s apart


@parametrize_backend
def test_custom_retry(backend: str) -> None:
    page = Page(backend)
    page.exec("custom_retry")
    result, waited = page.timed(page["eval_with_custom_retry"], virtual_time=True)
    assert_all_correct(result)
    assert [record.attempts for record in result.records] == [2, 2]  # failed once each
    assert (result.counts.attempts, result.counts.retried) == (4, 2)
    assert waited > 1.99  # wait_fixed(2), on the virtual clock


ADVANCED_RETRY_EVALUATION = """\
@foreach("question,answer", dataset)
async def eval_with_advanced_retry(question, answer):
    response = await api_client.request(question)  # 429 the first time
    if should_retry(response):
        return response  # retry_if_result sees what the evaluation returns
    result = await api_client.generate(question)  # raises the first time
    return exact_match(result, answer)
"""


@parametrize_backend
def test_advanced_retry(backend: str) -> None:
    page = Page(backend)
    page.exec("custom_retry")  # imports retry_if_exception_type, which this example uses
    page.exec("advanced_retry")
    page.exec("advanced_retry", ADVANCED_RETRY_EVALUATION)
    result, waited = page.timed(page["eval_with_advanced_retry"], virtual_time=True)
    assert_all_correct(result)
    # Attempt 1 returns a 429 response (retry_if_result), attempt 2 raises
    # (retry_if_exception_type), attempt 3 succeeds.
    assert [record.attempts for record in result.records] == [3, 3]
    assert waited > 7.99  # wait_exponential(min=4) twice, on the virtual clock


@parametrize_backend
def test_error_handling(backend: str) -> None:
    page = Page(backend)
    page.exec("error_handling")
    result = page.run(page["eval_with_error_handling"])
    assert (result.counts.total, result.counts.errors) == (2, 1)
    assert result.summary == {"exact_match": {"accuracy": 0.5}}  # the error counts as wrong
    (failed,) = result.errors
    assert failed.row["question"] == "What is 3+3?"
    assert failed.error.type == "spec_fakes.FakeAPIError"
    assert "refused" in failed.error.message
    assert "unreliable_api_call" in failed.error.traceback
    assert failed.attempts == 1  # not a transient error: not retried


@parametrize_backend
def test_batch(backend: str) -> None:
    page = Page(backend)
    page.exec("batch")
    result = page.run(page["eval_batch"])
    assert (result.counts.total, result.counts.errors) == (2, 0)
    assert result.summary == {"exact_match": {"accuracy": 0.8}}  # 4 of 5 scores
    assert [len(record.scores) for record in result.records] == [3, 2]


CLOSE_SESSION = {
    "asyncio": "    await session.close()\n",
    "trio": "    await session.aclose()\n",
}


@parametrize_backend
def test_connection_pooling(backend: str) -> None:
    page = Page(backend)
    with answer_server() as server:
        code = page.source("connection_pooling").replace(
            "https://api.example.com", server_url(server)
        )
        driver = "try:\n    return await eval_with_session()\nfinally:\n" + CLOSE_SESSION[backend]
        page.exec("connection_pooling", as_main(code, driver))
        result = page.run(page["main"])
        assert server.requests == 2
    assert_all_correct(result)


@parametrize_backend
def test_progress(backend: str) -> None:
    page = Page(backend)
    page.exec("progress")
    assert_all_correct(page.run(page["eval_with_progress"]))


@parametrize_backend
def test_resource_monitoring(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    page = Page(backend)
    page.exec("resource_monitoring")
    result = page.run(page["main"])
    assert_all_correct(result)
    assert re.fullmatch(r"CPU: [\d.]+%, Memory: [\d.]+%\n", capsys.readouterr().out)


@parametrize_backend
def test_api_rate_limits(backend: str) -> None:
    page = Page(backend)
    page.exec("api_rate_limits")
    assert_all_correct(page.run(page["eval_api_limited"]))


RETURN_MODEL = "return result, model\n"

GENERATE = """\
class AsyncModel(AsyncModel):
    async def generate(self, prompt):
        return await self.client.generate(prompt)
"""


@parametrize_backend
def test_resource_cleanup_as_written(backend: str) -> None:
    page = Page(backend)
    page.exec("resource_cleanup", as_main(SPEC["resource_cleanup"], RETURN_MODEL))
    result, model = page.run(page["main"])
    assert (result.counts.total, result.counts.errors) == (2, 2)
    assert {record.error.type for record in result.errors} == {"AttributeError"}
    assert "'AsyncModel' object has no attribute 'generate'" in result.errors[0].error.message
    assert model.client.closed


@parametrize_backend
def test_resource_cleanup(backend: str) -> None:
    page = Page(backend)
    code = SPEC["resource_cleanup"].replace("\nasync with", GENERATE + "\nasync with", 1)
    page.exec("resource_cleanup", as_main(code, RETURN_MODEL))
    result, model = page.run(page["main"])
    assert_all_correct(result)
    assert model.client.closed
    assert page["create_client"].made == [model.client]


@parametrize_backend
def test_memory_management(backend: str) -> None:
    page = Page(backend)
    page.exec("memory_management")
    evaluation = page["eval_streaming"]
    result = page.run(functools.partial(evaluation, samples=100))
    assert (result.counts.total, result.counts.errors) == (100, 0)
    assert result.summary == {"exact_match": {"accuracy": 0.0}}  # "Question 7" has no answer
    # The generator object is one-shot: a second run refuses instead of running 0 items.
    with pytest.raises(doteval.DatasetError, match="one-shot iterator"):
        page.run(evaluation)


@parametrize_backend
def test_pitfall_blocking(backend: str) -> None:
    page = Page(backend)
    page.exec("pitfall_blocking")
    try:
        with pytest.warns(doteval.BlockingEvaluationWarning, match="eval_blocking") as caught:
            result = page.run(functools.partial(page["eval_blocking"], blocking_threshold=0.05))
        assert_all_correct(result)
        assert len(caught) == 1  # once per run, not once per blocking call
        with warnings.catch_warnings():
            warnings.simplefilter("error", doteval.BlockingEvaluationWarning)
            assert_all_correct(page.run(page["eval_non_blocking"]))
    finally:
        if "executor" in page.names:
            page["executor"].shutdown()


@parametrize_backend
def test_pitfall_await(backend: str) -> None:
    page = Page(backend)
    page.exec("pitfall_await")
    result = page.run(page["eval_not_awaited"])
    assert (result.counts.total, result.counts.errors) == (2, 2)
    assert all("forget `await`" in record.error.message for record in result.errors)
    assert_all_correct(page.run(page["eval_awaited"]))


@parametrize_backend
def test_profiling(backend: str) -> None:
    page = Page(backend)
    page.exec("profiling")
    result = page.run(page["eval_with_timing"])
    assert_all_correct(result)
    durations = [record.scores[0].metadata["duration"] for record in result.records]
    assert all(isinstance(d, float) and d >= 0 for d in durations)


@pytest.mark.parametrize("example", sorted(SKIPPED))
def test_skipped(example: str) -> None:
    pytest.skip(f"{TITLES[example]}: {SKIPPED[example]}")


# --- the bookkeeping stays honest ----------------------------------------------------


def test_every_example_is_run_or_skipped() -> None:
    for example in [*SPEC, *COMMANDS]:
        tested = f"test_{example}" in globals()
        assert tested != (example in SKIPPED), example
    assert set(TRIO_PORTS) <= set(MODIFIED)
    assert set(MODIFIED) | set(SKIPPED) <= set(TITLES) == set(SPEC) | set(COMMANDS)


def test_examples_without_a_port_use_no_asyncio() -> None:
    for example, code in SPEC.items():
        if example not in TRIO_PORTS and example not in SKIPPED:
            assert not re.search(r"(?<![.\w])asyncio\b", code), example
    for example, code in TRIO_PORTS.items():
        assert not re.search(r"\b(asyncio|aiohttp)\b", code), example


def test_docs_list_every_skipped_and_modified_example() -> None:
    page = Path(__file__).parents[1] / "docs" / "async.md"
    note = page.read_text(encoding="utf-8").split("## Examples of the original page")[1]
    for example in [*SKIPPED, *MODIFIED]:
        assert TITLES[example] in note, example
