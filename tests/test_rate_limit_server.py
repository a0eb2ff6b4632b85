"""RateLimitedStrategy, measured where it matters: request arrivals at the server.

Some requests fail (10 % answer 500), so items retry; the server counts every
request, retries included, so the bounds below hold only if every attempt takes
a token. ``requests_per_minute`` is checked on a scaled-down clock: a rate high
enough to measure in seconds. The client is plain httpx, the lightest real client,
so that a loaded test machine can still keep up with the rate; it opens its
connections before the run, so that connection set-up does not delay the first
requests into the next second.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import pytest

import doteval
from doteval import RetryPolicy
from doteval.concurrency import RateLimitedStrategy
from doteval.evaluators import exact_match
from fake_llm_server import FakeLLMServer

ITEMS = 470
RETRIES = RetryPolicy(attempts=8, wait_initial=0.001, wait_max=0.01, wait_jitter=0)


@doteval.foreach("question,answer", [(f"What is {i}+1?", str(i + 1)) for i in range(ITEMS)])
async def eval_paced(question: str, answer: str, client: httpx2.AsyncClient) -> doteval.Score:
    response = await client.post(
        "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": question}]},
    )
    response.raise_for_status()  # a 500 raises HTTPStatusError, which doteval retries
    return exact_match(response.json()["choices"][0]["message"]["content"], answer)


# A burst of 20 lets the pacer make up for the moments a loaded test machine leaves
# the client descheduled, so that the mean rate holds; it also raises the bound.
@pytest.mark.parametrize(
    "limits",
    [{"requests_per_second": 200, "burst": 20}, {"requests_per_minute": 12_000, "burst": 20}],
    ids=["per-second", "per-minute"],  # both: 200 requests a second
)
async def test_every_attempt_is_paced_at_the_server(
    llm_server: FakeLLMServer, limits: dict[str, Any]
) -> None:
    strategy = RateLimitedStrategy(max_concurrency=20, **limits)
    async with httpx2.AsyncClient(base_url=llm_server.url) as client:
        warm_up = eval_paced.fn  # the undecorated function: 20 requests at once
        async with anyio.create_task_group() as task_group:
            for _ in range(20):
                task_group.start_soon(warm_up, "What is 1+1?", "2", client)
        llm_server.configure(latency=0.01, rate_500=0.1, seed=3)
        result = await eval_paced(
            client=client,
            concurrency=strategy,
            retries=RETRIES,
            progress=False,
            storage="memory://",
        )
    stats = llm_server.stats()
    assert result.counts.errors == 0
    assert result.counts.retried > 0.05 * ITEMS
    assert result.counts.attempts == len(stats.requests) >= 500
    assert stats.max_in_window(1.0) <= 200 + 20
    # Not slower than the limit by a pacing mistake (one period too wide halves the
    # rate); a loaded two-core machine running client and server in one process has
    # been seen at 0.84 of it, so the bound leaves room for that and no more.
    assert stats.mean_rate() >= 0.75 * 200
