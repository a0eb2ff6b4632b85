"""AdaptiveStrategy: a window that follows what the server takes.

The in-process models below stand in for servers with a capacity: one answers
429 beyond it (like an API's concurrency limit), one makes extra requests wait
(like a busy inference server), one hangs beyond it (to provoke timeouts). The last
test runs the real OpenAI client against the fake LLM server with a concurrency limit.
"""

from __future__ import annotations

import statistics
import threading

import anyio
import attrs
import openai
import pytest

import doteval
from doteval import RetryPolicy
from doteval.concurrency import AdaptiveStrategy
from doteval.evaluators import exact_match
from doteval.testing import FakeModel
from fake_llm_server import FakeLLMServer, median_window

FAST_RETRIES = RetryPolicy(attempts=10, wait_initial=0.001, wait_max=0.01, wait_jitter=0)


def arithmetic(count: int) -> list[tuple[str, str]]:
    return [(f"What is {i}+{i}?", str(2 * i)) for i in range(count)]


class TooManyRequests(Exception):
    """Shaped like openai.RateLimitError: a status code and a response with headers."""

    status_code = 429

    def __init__(self, retry_after_ms: int | None) -> None:
        super().__init__("429 Too Many Requests")
        headers = {} if retry_after_ms is None else {"retry-after-ms": str(retry_after_ms)}
        self.response = type("Response", (), {"headers": headers, "status_code": 429})()


@attrs.define
class Server:
    """A model behind a server that takes ``capacity`` requests at once.

    Beyond it the server answers 429 (``mode="reject"``), queues the request
    (``"queue"``), or never answers (``"hang"``). ``peak`` is the most requests
    that were ever in flight, ``log`` has the time of every 429.
    """

    capacity: int
    mode: str = "reject"
    latency: float = 0.01
    retry_after_ms: int | None = None
    in_flight: int = 0
    peak: int = 0
    rejected: list[float] = attrs.field(factory=list)
    _slots: anyio.Semaphore = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._slots = anyio.Semaphore(self.capacity)

    async def generate(self, prompt: str) -> str:
        if self.in_flight >= self.capacity and self.mode == "reject":
            self.rejected.append(anyio.current_time())
            raise TooManyRequests(self.retry_after_ms)
        if self.in_flight >= self.capacity and self.mode == "hang":
            await anyio.sleep_forever()  # lost: it takes no slot, and never answers
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            async with self._slots:
                await anyio.sleep(self.latency)
            return FakeModel().answer(prompt)
        finally:
            self.in_flight -= 1


def evaluation(count: int) -> doteval.Evaluation:
    @doteval.foreach("question,answer", arithmetic(count))
    async def eval_math(question: str, answer: str, model: Server) -> doteval.Score:
        return exact_match(await model.generate(question), answer)

    return eval_math


async def run(
    count: int, model: Server, strategy: AdaptiveStrategy, **options: object
) -> tuple[doteval.EvaluationResult, list[tuple[float, int]]]:
    trace: list[tuple[float, int]] = []
    strategy = attrs.evolve(strategy, on_resize=lambda t, w: trace.append((t, w)))
    result = await evaluation(count)(
        model=model,
        concurrency=strategy,
        retries=FAST_RETRIES,
        progress=False,
        storage="memory://",
        **options,
    )
    return result, trace


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="min <= initial <= max"):
        AdaptiveStrategy(initial=200)
    with pytest.raises(ValueError, match="min <= initial <= max"):
        AdaptiveStrategy(initial=2, min=4)
    with pytest.raises(
        ValueError, match=r"AdaptiveStrategy.min must be a whole number of at least 1, got 0"
    ):
        AdaptiveStrategy(min=0)
    with pytest.raises(ValueError, match="backoff must be between 0 and 1, got 1"):
        AdaptiveStrategy(backoff=1)


def test_is_a_comparable_attrs_class() -> None:
    assert AdaptiveStrategy() == AdaptiveStrategy(initial=8, min=1, max=100, backoff=0.9)
    assert AdaptiveStrategy(on_resize=print) == AdaptiveStrategy()
    assert repr(AdaptiveStrategy(max=50)) == (
        "AdaptiveStrategy(initial=8, min=1, max=50, backoff=0.9)"
    )


async def test_max_concurrency_caps_the_window() -> None:
    model = Server(capacity=1000, latency=0.002)
    result, trace = await run(300, model, AdaptiveStrategy(), max_concurrency=5)
    assert result.counts.errors == 0
    assert model.peak <= 5
    assert trace[0] == (0.0, 5)  # initial=8 was lowered to the new max
    assert max(window for _, window in trace) == 5


def test_max_concurrency_lowers_min_and_initial() -> None:
    assert AdaptiveStrategy(initial=8, min=4).resized(2) == AdaptiveStrategy(
        initial=2, min=2, max=2
    )
    assert AdaptiveStrategy().resized(500).max_concurrency == 500


async def test_grows_while_nothing_pushes_back() -> None:
    model = Server(capacity=1000, latency=0.01)
    result, trace = await run(600, model, AdaptiveStrategy(initial=2, max=40))
    assert result.counts.errors == 0
    assert [window for _, window in trace[:3]] == [2, 3, 4]
    assert max(window for _, window in trace) == 40
    assert model.peak == 40


async def test_shrinks_on_429_and_settles_near_the_capacity() -> None:
    model = Server(capacity=6, latency=0.01)
    result, trace = await run(800, model, AdaptiveStrategy(initial=4))
    assert result.counts.errors == 0
    assert result.summary["exact_match"]["accuracy"] == 1.0
    windows = [window for _, window in trace]
    peak = windows.index(max(windows))
    assert max(windows) > 6  # slow start overshot the capacity
    assert windows[peak + 1] <= 6  # the first 429 brought it back in one step
    assert 4 <= median_window(trace, result.wall_time / 2, result.wall_time) <= 8
    # 429s are a small share of the attempts once the window has found the capacity
    assert len(model.rejected) < 0.1 * result.counts.attempts


async def test_a_burst_of_429s_shrinks_the_window_once() -> None:
    # Nine of the twelve first attempts fail together; one decrease answers them all,
    # to 0.9 x the 4 attempts under way when the first rejected one started.
    model = Server(capacity=3, latency=0.02)
    result, trace = await run(60, model, AdaptiveStrategy(initial=12, max=12))
    windows = [window for _, window in trace]
    assert windows[:3] == [12, 3, 4]  # then it probes upwards again
    assert len(model.rejected) >= 9
    assert result.counts.errors == 0


async def test_shrinks_on_timeouts() -> None:
    # Round trips of 20 ms: a busy machine's scheduling noise of a few ms is small beside them.
    model = Server(capacity=4, mode="hang", latency=0.02)
    result, trace = await run(200, model, AdaptiveStrategy(initial=12, max=12), timeout=0.4)
    assert result.counts.errors == 0
    assert trace[1][1] < 12
    assert median_window(trace, result.wall_time / 2, result.wall_time) <= 6


async def test_stops_growing_when_throughput_stops_improving() -> None:
    # Past 8 requests at once this server only queues them: more concurrency buys
    # nothing, so the window must not run off to its maximum of 100.
    model = Server(capacity=8, mode="queue", latency=0.01)
    result, trace = await run(1500, model, AdaptiveStrategy())
    assert result.counts.errors == 0
    assert median_window(trace, result.wall_time / 2, result.wall_time) <= 40


async def test_does_not_grow_before_retry_after_has_passed() -> None:
    model = Server(capacity=5, latency=0.01, retry_after_ms=300)
    growth: list[float] = []
    sizes = [5]

    def on_resize(seconds: float, window: int) -> None:
        if window > sizes[-1]:
            growth.append(anyio.current_time())
        sizes.append(window)

    result = await evaluation(300)(
        model=model,
        concurrency=AdaptiveStrategy(initial=5, on_resize=on_resize),
        retries=FAST_RETRIES,
        progress=False,
    )
    assert result.counts.errors == 0
    assert model.rejected
    assert any(moment > model.rejected[0] for moment in growth)  # it grew again later
    for rejected in model.rejected:
        assert not any(rejected <= moment < rejected + 0.3 for moment in growth)


async def test_the_real_openai_client_against_a_concurrency_limit(
    llm_server: FakeLLMServer,
) -> None:
    # The K = 16 server of the benchmark (configured below), a shorter run, defaults.
    trace: list[tuple[float, int]] = []
    answered_in: list[float] = []  # seconds each answered call took, as the client saw it

    @doteval.foreach("question,answer", arithmetic(600))
    async def eval_openai(question: str, answer: str, client: openai.AsyncOpenAI) -> doteval.Score:
        started = anyio.current_time()
        response = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
        )
        answered_in.append(anyio.current_time() - started)
        return exact_match(response.choices[0].message.content, answer)

    async with openai.AsyncOpenAI(max_retries=0) as client:
        # The client's first call builds its machinery (blocking the loop for a while on
        # a busy machine): done before the run, which would blame the evaluation for it.
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "What is 1+1?"}]
        )
        llm_server.configure(latency=0.05, max_concurrent=16, retry_after=0.05)  # new stats
        result = await eval_openai(
            client=client,
            concurrency=AdaptiveStrategy(on_resize=lambda t, w: trace.append((t, w))),
            progress=False,
        )
    stats = llm_server.stats()
    assert result.counts.errors == 0
    assert result.summary["exact_match"]["accuracy"] == 1.0
    assert stats.outcomes()["ok"] == 600
    assert stats.max_in_flight <= 16
    # The window that keeps all 16 of the server's places busy (Little's law): 16 when a
    # call takes only the server's 50 ms, more when the client adds its own time (a busy
    # CI machine's event loop does). A quarter over that is overshooting.
    filling = 16 * statistics.median(answered_in) / 0.05
    assert 12 <= median_window(trace, result.wall_time / 2, result.wall_time) <= 1.25 * filling
    assert stats.outcomes()["limit"] < 0.1 * len(stats.requests)


async def test_sync_evaluations_adapt_too() -> None:
    turned_away: set[str] = set()
    lock = threading.Lock()

    @doteval.foreach("question,answer", arithmetic(40))
    def eval_sync(question: str, answer: str) -> doteval.Score:
        # The first call of every tenth item is turned away (counted per item: the calls
        # run in threads, and a count of calls would depend on how they interleave).
        with lock:
            first = question not in turned_away
            turned_away.add(question)
        if first and int(answer) % 20 == 18:
            raise TooManyRequests(retry_after_ms=1)
        return exact_match(FakeModel().answer(question), answer)

    trace: list[tuple[float, int]] = []
    result = await eval_sync(
        concurrency=AdaptiveStrategy(initial=4, on_resize=lambda t, w: trace.append((t, w))),
        retries=FAST_RETRIES,
        progress=False,
        storage="memory://",
    )
    assert result.counts.errors == 0
    assert result.counts.retried >= 3
    assert any(
        window < before for (_, window), (_, before) in zip(trace[1:], trace[:-1], strict=True)
    )
