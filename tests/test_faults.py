"""Injected faults, through the real OpenAI client: stalls, 429s, 500s and dropped connections.

The fake server decides each request's fault from the prompt and how many times it
has seen that prompt, so the attempts an item needs are known in advance.
"""

from __future__ import annotations

import collections

import anyio
import openai

import doteval
from doteval import ItemTimeoutError, RetryPolicy
from doteval.concurrency import SlidingWindowStrategy
from doteval.evaluators import exact_match
from fake_llm_server import Config, FakeLLMServer

FAST_RETRIES = RetryPolicy(attempts=8, wait_initial=0.001, wait_max=0.01, wait_jitter=0)


def arithmetic(count: int) -> list[tuple[str, str]]:
    return [(f"What is {i}+{i}?", str(2 * i)) for i in range(count)]


def openai_evaluation(dataset: list[tuple[str, str]]) -> doteval.Evaluation:
    @doteval.foreach("question,answer", dataset)
    async def eval_openai(question: str, answer: str, client: openai.AsyncOpenAI) -> doteval.Score:
        response = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
        )
        return exact_match(response.choices[0].message.content, answer)

    return eval_openai


async def server_settles(server: FakeLLMServer) -> int:
    """Requests the server is still serving, once abandoned ones have been noticed."""
    for _ in range(100):
        in_flight = server.stats().in_flight
        if in_flight == 0:
            break
        await anyio.sleep(0.01)
    return in_flight


async def test_a_stalled_request_times_out_is_retried_then_recorded(
    llm_server: FakeLLMServer,
) -> None:
    dataset = arithmetic(10)
    once, always = dataset[3][0], dataset[7][0]
    llm_server.configure(latency=0.01, script={once: ["stall"], always: ["stall"] * 5}, stall=30)
    retries = RetryPolicy(attempts=2, wait_initial=0.001, wait_max=0.01, wait_jitter=0)
    with anyio.fail_after(10):
        async with openai.AsyncOpenAI(max_retries=0) as client:
            result = await openai_evaluation(dataset)(
                client=client, timeout=0.3, retries=retries, progress=False
            )
    records = {record.row["question"]: record for record in result.records}
    assert records[once].error is None
    assert records[once].attempts == 2
    assert records[once].scores[0].value is True
    failed = records[always]
    assert failed.error is not None
    assert failed.error.type == f"{ItemTimeoutError.__module__}.ItemTimeoutError"
    assert "timed out after 0.3 s" in failed.error.message
    assert failed.attempts == 2
    assert failed.duration >= 0.6
    assert result.counts.total == 10  # the run went on around them
    assert result.counts.errors == 1
    assert result.summary["exact_match"]["accuracy"] == 0.9
    # the client hung up on each stalled request when its attempt was cancelled
    assert await server_settles(llm_server) == 0
    assert llm_server.stats().per_prompt()[always] == 2


async def test_every_item_survives_twenty_percent_faults(llm_server: FakeLLMServer) -> None:
    count = 1000
    dataset = arithmetic(count)
    faults = {"rate_429": 0.07, "rate_500": 0.07, "rate_drop": 0.06, "seed": 5}
    llm_server.configure(latency=0.002, retry_after=0.005, **faults)
    async with openai.AsyncOpenAI(max_retries=0) as client:
        result = await openai_evaluation(dataset)(
            client=client,
            concurrency=SlidingWindowStrategy(50),
            retries=FAST_RETRIES,
            timeout=10,
            progress=False,
        )
    stats = llm_server.stats()

    # every item ends with a correct score, exactly once
    assert result.counts.total == count
    assert result.counts.errors == 0
    assert result.summary == {"exact_match": {"accuracy": 1.0}}
    assert sorted(record.item_id for record in result.records) == list(range(count))
    served = collections.Counter(prompt for _, prompt, outcome in stats.requests if outcome == "ok")
    assert served == collections.Counter(question for question, _ in dataset)

    # the faults were injected at the configured rate: 20 % of first attempts
    outcomes = stats.outcomes()
    assert set(outcomes) == {"ok", "429", "500", "drop"}
    first_attempts_failed = sum(1 for record in result.records if record.attempts > 1)
    assert 0.16 * count < first_attempts_failed < 0.24 * count

    # each record's attempts are those the server saw, and those the seed predicts
    config = Config(**faults)
    for record in result.records:
        question = record.row["question"]
        expected = next(n for n in range(8) if config.outcome(question, n) == "ok") + 1
        assert record.attempts == expected == stats.per_prompt()[question]
    assert result.counts.attempts == len(stats.requests)
    assert result.counts.retried == first_attempts_failed
    needed = collections.Counter(record.attempts for record in result.records)
    print(
        f"\n{count} items, {len(stats.requests)} requests, faults {dict(outcomes)}; "
        f"items by attempts needed: {dict(sorted(needed.items()))}"
    )
