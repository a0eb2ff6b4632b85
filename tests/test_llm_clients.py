"""The real openai and anthropic async clients, over HTTP to the fake LLM server.

Every test here runs on asyncio and on trio: both clients are built on httpx and
anyio. The clients get ``max_retries=0`` wherever retries are counted, so that the
retries seen are doteval's.
"""

from __future__ import annotations

import doctest
import socket
import time
from pathlib import Path
from typing import Any

import anthropic
import anyio
import httpx2
import openai
import pytest

import doteval
from doteval import RetryPolicy
from doteval._private.retry.transient import is_overload, is_transient, retry_after
from doteval.evaluators import exact_match
from fake_llm_server import FakeLLMServer, answer
from test_docs import Reader, parse_blocks
from test_spec_examples import SPEC

DOCS = Path(__file__).parents[1] / "docs" / "clients.md"
DATASET = [(f"What is {a}+{a + 5}?", str(2 * a + 5)) for a in range(20)]
FAST_RETRIES = RetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.01, wait_jitter=0)
CHECKER, OUTPUT_FLAGS = doctest.OutputChecker(), doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
ANTHROPIC_FIX = (
    'model="claude-3-sonnet-20240229",',
    'model="claude-3-sonnet-20240229",\n        max_tokens=1024,',
)


def example(name: str) -> dict[str, Any]:
    """Run one of the spec's examples in a namespace holding the names the page assumes."""
    if name == "anthropic-with-max_tokens":
        source = SPEC["anthropic"].replace(*ANTHROPIC_FIX)
        assert source.count("max_tokens") == 1
    else:
        source = SPEC[name]
    namespace: dict[str, Any] = {
        "__name__": f"spec_{name}",
        "dataset": DATASET,
        "exact_match": exact_match,  # the Anthropic example uses it without importing it
    }
    exec(compile(source, f"<spec example {name}>", "exec"), namespace)
    return namespace


def test_the_server_answers_arithmetic() -> None:
    assert answer("What is 2+3?") == "5"
    assert answer("What is 6 x 7?") == "42"
    assert answer("What is 7/2?") == "3.5"
    assert answer("Tell me a joke") == "echo: Tell me a joke"


def test_nothing_listens_once_the_server_is_closed() -> None:
    with FakeLLMServer() as server:
        port = server.port
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


async def test_openai_example_runs_verbatim(llm_server: FakeLLMServer) -> None:
    namespace = example("openai")
    async with namespace["client"]:
        result = await namespace["eval_openai_async"](progress=False)
    assert result.summary == {"exact_match": {"accuracy": 1.0}}
    assert result.counts.total == len(DATASET)
    assert sorted(llm_server.stats().per_prompt()) == sorted(q for q, _ in DATASET)


async def test_anthropic_example_runs_with_max_tokens_added(llm_server: FakeLLMServer) -> None:
    namespace = example("anthropic-with-max_tokens")
    async with namespace["client"]:
        result = await namespace["eval_anthropic_async"](progress=False)
    assert result.summary == {"exact_match": {"accuracy": 1.0}}
    assert result.counts.total == len(DATASET)
    assert sorted(llm_server.stats().per_prompt()) == sorted(q for q, _ in DATASET)


async def test_anthropic_example_as_written_lacks_max_tokens(llm_server: FakeLLMServer) -> None:
    namespace = example("anthropic")
    async with namespace["client"]:
        result = await namespace["eval_anthropic_async"](progress=False)
    assert result.counts.errors == result.counts.total == len(DATASET)
    assert {record.error.type for record in result.errors if record.error} == {"TypeError"}
    assert all("max_tokens" in str(record.error) for record in result.errors)
    assert llm_server.stats().requests == []  # the client refuses before sending


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_docs_page_runs_against_the_server(llm_server: FakeLLMServer, backend: str) -> None:
    """docs/clients.md's blocks skip in test_docs (they need an API key); here they run."""
    blocks = parse_blocks(DOCS)
    assert blocks
    reader = Reader.start(DOCS, backend)
    ran = 0
    for block in blocks:
        if backend == "trio" and block.uses_asyncio():
            continue
        printed = reader.run(block)
        if block.output is not None:
            assert CHECKER.check_output(block.output, printed, OUTPUT_FLAGS), (block.label, printed)
        ran += 1
    assert ran >= len(blocks) - 1
    assert llm_server.stats().requests


# --- the clients' errors, as doteval's default retries see them ----------------------


async def openai_error(llm_server: FakeLLMServer, outcome: str, **client: Any) -> Exception:
    llm_server.configure(script={"q": [outcome]}, retry_after=0.25, stall=5)
    async with openai.AsyncOpenAI(max_retries=0, **client) as api:
        with pytest.raises(openai.OpenAIError) as caught:
            await api.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "q"}]
            )
    return caught.value


async def anthropic_error(llm_server: FakeLLMServer, outcome: str, **client: Any) -> Exception:
    llm_server.configure(script={"q": [outcome]}, retry_after=0.25, stall=5)
    async with anthropic.AsyncAnthropic(max_retries=0, **client) as api:
        with pytest.raises(anthropic.AnthropicError) as caught:
            await api.messages.create(
                model="claude-haiku-4-5",
                max_tokens=100,
                messages=[{"role": "user", "content": "q"}],
            )
    return caught.value


@pytest.mark.parametrize(
    ("outcome", "openai_type", "anthropic_type", "overload", "wait"),
    [
        ("429", openai.RateLimitError, anthropic.RateLimitError, True, 0.25),
        ("500", openai.InternalServerError, anthropic.InternalServerError, False, None),
        ("503", openai.InternalServerError, anthropic.ServiceUnavailableError, True, None),
        ("drop", openai.APIConnectionError, anthropic.APIConnectionError, False, None),
        ("stall", openai.APITimeoutError, anthropic.APITimeoutError, True, None),
    ],
)
async def test_the_clients_transient_errors_are_recognised(
    llm_server: FakeLLMServer,
    outcome: str,
    openai_type: type[Exception],
    anthropic_type: type[Exception],
    overload: bool,
    wait: float | None,
) -> None:
    errors = [
        await openai_error(llm_server, outcome, timeout=0.2),
        await anthropic_error(llm_server, outcome, timeout=0.2),
    ]
    for error, expected in zip(errors, [openai_type, anthropic_type], strict=True):
        assert isinstance(error, expected)
        assert is_transient(error)
        assert is_overload(error) is overload
        assert retry_after(error) == wait


async def test_a_bad_request_is_not_retried(llm_server: FakeLLMServer) -> None:
    errors = [
        await openai_error(llm_server, "400"),
        await anthropic_error(llm_server, "400"),
    ]
    assert [type(error) for error in errors] == [
        openai.BadRequestError,
        anthropic.BadRequestError,
    ]
    assert not any(is_transient(error) for error in errors)


async def test_httpx_transport_and_status_errors(llm_server: FakeLLMServer) -> None:
    llm_server.configure(script={"q": ["drop", "429"]}, retry_after=0.25)
    request = {"model": "m", "messages": [{"role": "user", "content": "q"}]}
    async with httpx2.AsyncClient(base_url=llm_server.url) as http:
        with pytest.raises(httpx2.TransportError) as dropped:
            await http.post("/v1/chat/completions", json=request)
        limited = await http.post("/v1/chat/completions", json=request)
    with pytest.raises(httpx2.HTTPStatusError) as status:
        limited.raise_for_status()
    assert is_transient(dropped.value)
    assert is_transient(status.value)
    assert is_overload(status.value)
    assert retry_after(status.value) == 0.25


# --- retries through doteval, counted at the server ----------------------------------


@doteval.foreach("question,answer", DATASET)
async def eval_openai(question: str, answer: str, client: openai.AsyncOpenAI) -> doteval.Score:
    response = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
    )
    return exact_match(response.choices[0].message.content, answer)


@doteval.foreach("question,answer", DATASET)
async def eval_anthropic(
    question: str, answer: str, client: anthropic.AsyncAnthropic
) -> doteval.Score:
    response = await client.messages.create(
        model="claude-haiku-4-5", max_tokens=100, messages=[{"role": "user", "content": question}]
    )
    return exact_match(response.content[0].text, answer)


async def run_with(client_name: str, **options: Any) -> doteval.EvaluationResult:
    if client_name == "openai":
        async with openai.AsyncOpenAI(max_retries=0) as client:
            return await eval_openai(client=client, progress=False, **options)
    async with anthropic.AsyncAnthropic(max_retries=0) as client:
        return await eval_anthropic(client=client, progress=False, **options)


@pytest.mark.parametrize("client_name", ["openai", "anthropic"])
async def test_default_retries_recover_from_each_transient_error(
    llm_server: FakeLLMServer, client_name: str
) -> None:
    faults = ["429", "500", "503", "drop"]
    questions = [question for question, _ in DATASET]
    llm_server.configure(
        script={question: [faults[i % 4]] for i, question in enumerate(questions[:8])},
        retry_after=0.01,
    )
    result = await run_with(client_name, retries=FAST_RETRIES, timeout=5)
    assert result.counts.errors == 0
    assert result.summary == {"exact_match": {"accuracy": 1.0}}
    attempts = {record.row["question"]: record.attempts for record in result.records}
    assert attempts == {q: 2 if i < 8 else 1 for i, q in enumerate(questions)}
    assert llm_server.stats().per_prompt() == attempts  # counted at the server too


@pytest.mark.parametrize("client_name", ["openai", "anthropic"])
async def test_retry_after_sets_the_wait(llm_server: FakeLLMServer, client_name: str) -> None:
    # The backoff alone would wait 5 s; the server asks for 0.3 s, and gets it.
    question = DATASET[0][0]
    llm_server.configure(script={question: ["429"]}, retry_after=0.3)
    slow_backoff = RetryPolicy(attempts=2, wait_initial=5, wait_max=10, wait_jitter=0)
    started = time.monotonic()
    with anyio.fail_after(4):
        result = await run_with(client_name, retries=slow_backoff, samples=1)
    assert result.counts.errors == 0
    first, second = (arrival for arrival, prompt, _ in llm_server.stats().requests)
    assert 0.3 <= second - first < 1.5
    assert time.monotonic() - started < 3


async def test_retry_after_is_capped_by_wait_max(llm_server: FakeLLMServer) -> None:
    question = DATASET[0][0]
    llm_server.configure(script={question: ["429"]}, retry_after=30)
    capped = RetryPolicy(attempts=2, wait_initial=0.001, wait_max=0.2, wait_jitter=0)
    with anyio.fail_after(5):
        result = await run_with("openai", retries=capped, samples=1)
    assert result.counts.errors == 0
    first, second = (arrival for arrival, _, _ in llm_server.stats().requests)
    assert 0.2 <= second - first < 2
