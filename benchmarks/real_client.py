"""The real OpenAI client over HTTP, against the fake LLM server of the test suite.

- ``real_client``: 2,000 requests with 50 ms server latency at window 100, doteval
  against a bare-anyio worker pool calling the same client (target: ratio ≤ 1.05).
- ``adaptive``: ``AdaptiveStrategy()`` with its default parameters against a server
  that serves at most 16 requests at once (50 ms each, 429 with ``retry-after-ms:
  50`` beyond that), against the bare pool at a window fixed at 16 (target: ratio
  ≤ 1.25). A run is broken if an item fails or if the median window over the second
  half of the run is outside [12, 20]; the window trace goes to stderr.

The server runs in its own process, so its CPU time is not the client's. Both
sides use ``max_retries=0`` clients; doteval runs with ``RUN_OPTIONS``. Run with
``python -m benchmarks --only real_client,adaptive``.
"""

from __future__ import annotations

import functools
import importlib.util
import statistics
import sys
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import openai

import doteval
from benchmarks.baseline import bare_pool
from benchmarks.measure import ROOT, RUN_OPTIONS, check, interleaved, on_backend
from benchmarks.registry import Row, Settings, benchmark, ratio_at_most, scaled
from doteval.concurrency import AdaptiveStrategy
from doteval.evaluators import exact_match

ITEMS = scaled(2_000)
LATENCY = 0.05
WINDOW = 100
CAPACITY = 16
ADAPTIVE_REPEATS = 3
"""Runs per side of the adaptive benchmark (about 8 s each), fewer than the default 5."""
DATASET = [(f"What is {i}+{i}?", str(2 * i)) for i in range(ITEMS)]


@functools.cache
def fake_server() -> ModuleType:
    """tests/fake_llm_server.py, which is not in an importable package."""
    path = ROOT / "tests" / "fake_llm_server.py"
    spec = importlib.util.spec_from_file_location("fake_llm_server", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defined
    spec.loader.exec_module(module)
    return module


async def ask(client: openai.AsyncOpenAI, row: tuple[str, str]) -> doteval.Score:
    question, answer = row
    response = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
    )
    return exact_match(response.choices[0].message.content, answer)


@doteval.foreach("question,answer", DATASET)
async def eval_openai(question: str, answer: str, client: openai.AsyncOpenAI) -> doteval.Score:
    return await ask(client, (question, answer))


def client_for(server: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="sk-fake", max_retries=0)


async def doteval_wall(server: Any, **options: Any) -> tuple[float, doteval.EvaluationResult]:
    async with client_for(server) as client:
        started = time.perf_counter()
        result = await eval_openai(client=client, **RUN_OPTIONS, **options)
        elapsed = time.perf_counter() - started
    check(
        result.counts.errors == 0 and result.summary["exact_match"]["accuracy"] == 1.0,
        f"doteval ran {result.counts} with summary {result.summary}",
    )
    return elapsed, result


async def bare_wall(server: Any, window: int) -> float:
    async with client_for(server) as client:
        started = time.perf_counter()
        correct = await bare_pool(DATASET, functools.partial(ask, client), window)
        elapsed = time.perf_counter() - started
    check(correct == ITEMS, f"the bare pool scored {correct} of {ITEMS}")
    return elapsed


def configured(server: Any, **settings: Any) -> Any:
    """Reset the server before each run, so every run starts from the same state."""
    server.configure(**settings)
    return server


@benchmark("real_client", order=60)
def real_client(settings: Settings) -> Iterator[Row]:
    with fake_server().FakeLLMServer() as server:
        for backend in settings.backends:

            def dot(backend: str = backend) -> float:
                async def run() -> float:
                    elapsed, _ = await doteval_wall(server, max_concurrency=WINDOW)
                    return elapsed

                configured(server, latency=LATENCY)
                return on_backend(backend, run)

            def bare(backend: str = backend) -> float:
                configured(server, latency=LATENCY)
                return on_backend(backend, bare_wall, server, WINDOW)

            dot_wall, bare_wall_ = interleaved(dot, bare, settings.repeats)
            yield Row(
                "real_client",
                f"{ITEMS:,} openai requests, server latency {LATENCY * 1000:g} ms",
                backend,
                WINDOW,
                "wall s",
                dot_wall,
                bare_wall_,
                ratio_at_most(1.05),
            )


def describe(trace: list[tuple[float, int]], wall: float, limited: int) -> str:
    """The window over time, sampled every half second, and a few landmarks."""
    samples, index = [], 0
    for tick in range(int(wall / 0.5) + 1):
        while index + 1 < len(trace) and trace[index + 1][0] <= tick * 0.5:
            index += 1
        samples.append(trace[index][1])
    first_cut = next(
        (t for (t, w), (_, before) in zip(trace[1:], trace[:-1], strict=True) if w < before),
        float("nan"),
    )
    windows = [window for t, window in trace if t >= wall / 2]
    return (
        f"{len(trace)} changes, {limited} requests answered 429; peak {max(w for _, w in trace)}, "
        f"first decrease at {first_cut:.2f} s; second half: "
        f"{min(windows, default=0)}..{max(windows, default=0)}; every 0.5 s: {samples}"
    )


@benchmark("adaptive", order=61)
def adaptive(settings: Settings) -> Iterator[Row]:
    median_window = fake_server().median_window
    limits = {"latency": LATENCY, "max_concurrent": CAPACITY, "retry_after": 0.05}
    with fake_server().FakeLLMServer() as server:
        for backend in settings.backends:
            medians: list[float] = []

            def dot(backend: str = backend, medians: list[float] = medians) -> float:
                trace: list[tuple[float, int]] = []
                results: list[doteval.EvaluationResult] = []

                async def run() -> float:
                    strategy = AdaptiveStrategy(on_resize=lambda t, w: trace.append((t, w)))
                    elapsed, result = await doteval_wall(server, concurrency=strategy)
                    results.append(result)
                    return elapsed

                configured(server, **limits)
                elapsed = on_backend(backend, run)
                (result,) = results
                median = median_window(trace, result.wall_time / 2, result.wall_time)
                medians.append(median)
                limited = server.stats().outcomes()["limit"]
                print(
                    f"adaptive on {backend}: {elapsed:.2f} s, median window over the second "
                    f"half {median:g}; {describe(trace, result.wall_time, limited)}",
                    file=sys.stderr,
                    flush=True,
                )
                check(
                    12 <= median <= 20,
                    f"the median window over the second half was {median}, not in [12, 20]",
                )
                return elapsed

            def bare(backend: str = backend) -> float:
                configured(server, **limits)
                return on_backend(backend, bare_wall, server, CAPACITY)

            dot_wall, bare_wall_ = interleaved(dot, bare, min(settings.repeats, ADAPTIVE_REPEATS))
            yield Row(
                "adaptive",
                f"{ITEMS:,} requests, server takes {CAPACITY} at once; vs window fixed at "
                f"{CAPACITY} (median window {statistics.median(medians):g})",
                backend,
                CAPACITY,
                "wall s",
                dot_wall,
                bare_wall_,
                ratio_at_most(1.25),
                baseline=f"bare anyio, window {CAPACITY}",
            )
