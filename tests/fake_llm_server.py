"""A fault-injecting fake LLM server: OpenAI's and Anthropic's HTTP APIs on 127.0.0.1.

It runs in its own process (``python fake_llm_server.py`` prints the port it bound),
so its CPU time does not distort the client's timings. ``FakeLLMServer`` starts and
stops that process from tests and benchmarks and drives it over HTTP:

- ``POST /v1/chat/completions`` (OpenAI) and ``POST /v1/messages`` (Anthropic)
  answer arithmetic questions ("What is 2+3?" -> "5") and echo anything else, so
  ``exact_match`` is meaningful.
- ``POST /_config`` replaces the configuration (see ``Config``) and clears the stats;
  ``GET /_stats`` returns every request's arrival time, prompt and outcome.

Faults are seeded per prompt and attempt: the outcome of the n-th request carrying
a given prompt depends only on the seed, the prompt and n, so a run's faults do not
depend on the order in which concurrent requests arrive. Only the standard library
is used, to keep the process quick to start.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import http.client
import json
import math
import operator
import random
import re
import subprocess
import sys
import threading
import time
from typing import Any

OUTCOMES = ("ok", "400", "429", "500", "503", "drop", "stall")


@dataclasses.dataclass
class Config:
    """How the server behaves; every field can be set through ``POST /_config``."""

    latency: float = 0.0
    """Seconds every accepted request takes, at least."""
    latency_jitter: float = 0.0
    """Extra seconds, drawn uniformly from ``[0, latency_jitter]`` (seeded)."""
    max_concurrent: int | None = None
    """Requests served at once; one more gets 429 with Retry-After."""
    requests_per_second: float | None = None
    """Requests accepted in any 1-second window; beyond: 429 with Retry-After."""
    retry_after: float = 1.0
    """Seconds sent with every 429, as ``retry-after-ms`` and ``Retry-After``."""
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    rate_drop: float = 0.0
    """Share of requests whose connection is reset without a response."""
    rate_stall: float = 0.0
    """Share of requests that get no response for ``stall`` seconds."""
    stall: float = 30.0
    seed: int = 0
    script: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    """Outcomes of the 1st, 2nd, ... request with a given prompt; "ok" when exhausted."""

    def __post_init__(self) -> None:
        for outcomes in self.script.values():
            unknown = set(outcomes) - set(OUTCOMES)
            if unknown:
                raise ValueError(f"unknown outcome(s) {sorted(unknown)}; use {OUTCOMES}")

    def outcome(self, prompt: str, attempt: int) -> str:
        """The fault (or "ok") chosen for the ``attempt``-th request with ``prompt``."""
        scripted = self.script.get(prompt)
        if scripted is not None:
            return scripted[attempt] if attempt < len(scripted) else "ok"
        draw = random.Random(f"{self.seed}:{attempt}:{prompt}").random()
        for name, rate in (
            ("429", self.rate_429),
            ("500", self.rate_500),
            ("503", self.rate_503),
            ("drop", self.rate_drop),
            ("stall", self.rate_stall),
        ):
            if draw < rate:
                return name
            draw -= rate
        return "ok"


_OPERATORS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "x": operator.mul,
    "/": operator.truediv,
}
_ARITHMETIC = re.compile(r"(-?\d+)\s*([-+*x/])\s*(-?\d+)")


def answer(prompt: str) -> str:
    """The deterministic reply: the result of the first ``a op b`` in the prompt."""
    match = _ARITHMETIC.search(prompt)
    if match is None:
        return f"echo: {prompt}"
    left, symbol, right = match.groups()
    try:
        value = _OPERATORS[symbol](int(left), int(right))
    except ZeroDivisionError:
        return "undefined"
    return str(int(value)) if value == int(value) else str(value)


def _prompt(body: dict[str, Any]) -> str:
    content = (body.get("messages") or [{}])[-1].get("content", "")
    if isinstance(content, list):  # content blocks
        return "".join(block.get("text", "") for block in content if isinstance(block, dict))
    return str(content)


def _openai_reply(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _anthropic_reply(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "fake"),
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }


def _error_body(path: str, status: int) -> dict[str, Any]:
    kind = {
        400: "invalid_request_error",
        429: "rate_limit_error",
        503: "overloaded_error",
    }.get(status, "api_error")
    message = f"fake server: injected {status}"
    if path.endswith("/messages"):
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": kind, "code": None}}


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests"}
_REASONS |= {500: "Internal Server Error", 503: "Service Unavailable"}


class _Drop(Exception):
    """Close the connection without answering."""


class Server:
    """The server's state: configuration, counters and the request log."""

    def __init__(self) -> None:
        self.configure({})

    def configure(self, settings: dict[str, Any]) -> None:
        self.config = Config(**settings)
        self.random = random.Random(self.config.seed)
        self.log: list[tuple[float, str, str]] = []
        self.seen: collections.Counter[str] = collections.Counter()
        self.accepted: collections.deque[float] = collections.deque()
        self.in_flight = 0
        self.max_in_flight = 0
        self.generation = getattr(self, "generation", 0) + 1

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.log,
            "max_in_flight": self.max_in_flight,
            "in_flight": self.in_flight,
        }

    def _over_limit(self, now: float) -> bool:
        config = self.config
        if config.max_concurrent is not None and self.in_flight >= config.max_concurrent:
            return True
        if config.requests_per_second is not None:
            while self.accepted and self.accepted[0] <= now - 1.0:
                self.accepted.popleft()
            if len(self.accepted) >= config.requests_per_second:
                return True
            self.accepted.append(now)
        return False

    async def complete(
        self, path: str, body: dict[str, Any], reader: asyncio.StreamReader
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Status, JSON body and extra headers of a model call (or ``_Drop``)."""
        now = time.monotonic()
        prompt = _prompt(body)
        config = self.config
        outcome = config.outcome(prompt, self.seen[prompt])
        self.seen[prompt] += 1
        if outcome == "ok" and self._over_limit(now):
            outcome = "limit"
        self.log.append((now, prompt, outcome))
        if outcome == "drop":
            raise _Drop
        if outcome in ("429", "limit"):
            wait = config.retry_after
            headers = {
                "retry-after-ms": str(round(wait * 1000)),
                "retry-after": str(math.ceil(wait)),
            }
            return 429, _error_body(path, 429), headers
        if outcome in ("400", "500", "503"):
            return int(outcome), _error_body(path, int(outcome)), {}
        generation = self.generation
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if outcome == "stall":
                # Wait until the client gives up (closes the connection) or time passes.
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(reader.read(1), config.stall)
                raise _Drop
            delay = config.latency + self.random.uniform(0, config.latency_jitter)
            if delay > 0:
                await asyncio.sleep(delay)
        finally:
            if generation == self.generation:  # not reset by /_config meanwhile
                self.in_flight -= 1
        text = answer(prompt)
        if path.endswith("/messages"):
            return 200, _anthropic_reply(body, text), {}
        return 200, _openai_reply(body, text), {}

    async def route(
        self, method: str, path: str, raw: bytes, reader: asyncio.StreamReader
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "GET" and path == "/_stats":
            return 200, self.stats(), {}
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return 400, {"error": {"message": "body is not JSON"}}, {}
        if method == "POST" and path == "/_config":
            try:
                self.configure(body)
            except (TypeError, ValueError) as exc:
                return 400, {"error": {"message": str(exc)}}, {}
            return 200, {"configured": body}, {}
        if method == "POST" and path in ("/v1/chat/completions", "/v1/messages"):
            return await self.complete(path, body, reader)
        return 404, {"error": {"message": f"no route {method} {path}"}}, {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serves HTTP/1.1 requests on one keep-alive connection."""
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                try:
                    status, payload, extra = await self.route(method, path, raw, reader)
                except _Drop:
                    writer.transport.abort()
                    return
                data = json.dumps(payload).encode()
                head_lines = [
                    f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
                    "content-type: application/json",
                    f"content-length: {len(data)}",
                    *(f"{name}: {value}" for name, value in extra.items()),
                ]
                writer.write(("\r\n".join(head_lines) + "\r\n\r\n").encode() + data)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return  # the client went away, or the server is shutting down
        finally:
            writer.close()


async def _serve(port: int) -> None:
    server = Server()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def watch_stdin() -> None:
        # The parent closes our stdin (or dies) to stop us: nothing outlives the tests.
        sys.stdin.buffer.read()
        loop.call_soon_threadsafe(stop.set)

    listener = await asyncio.start_server(server.handle, "127.0.0.1", port, backlog=1024)
    bound = listener.sockets[0].getsockname()[1]
    print(bound, flush=True)
    threading.Thread(target=watch_stdin, daemon=True).start()
    async with listener:
        await stop.wait()


class FakeLLMServer:
    """Starts the server process on a free loopback port; ``close()`` stops it."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.strip().isdigit():
            self.close()
            raise RuntimeError(f"the fake LLM server did not start: {line!r}")
        self.port = int(line)
        self.url = f"http://127.0.0.1:{self.port}"
        self._control = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body)
        self._control.request(method, path, body=data)
        response = self._control.getresponse()
        payload = json.loads(response.read())
        if response.status != 200:
            raise ValueError(payload["error"]["message"])
        return payload

    def configure(self, **settings: Any) -> None:
        """Replace the configuration (fields of ``Config``) and clear the stats."""
        self._call("POST", "/_config", settings)

    def stats(self) -> Stats:
        return Stats(**self._call("GET", "/_stats"))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._control.close()
        if self._process.stdin is not None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> FakeLLMServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclasses.dataclass
class Stats:
    """What the server saw: ``requests`` is ``(arrival, prompt, outcome)`` in arrival order.

    Outcomes: "ok", "limit" (429 for exceeding a limit) or an injected fault.
    """

    requests: list[tuple[float, str, str]]
    max_in_flight: int
    in_flight: int

    @property
    def arrivals(self) -> list[float]:
        return [arrival for arrival, _, _ in self.requests]

    def outcomes(self) -> collections.Counter[str]:
        return collections.Counter(outcome for _, _, outcome in self.requests)

    def per_prompt(self) -> collections.Counter[str]:
        return collections.Counter(prompt for _, prompt, _ in self.requests)

    def max_in_window(self, seconds: float = 1.0) -> int:
        """The most requests that arrived within any half-open span of ``seconds``."""
        arrivals = sorted(self.arrivals)
        most, start = 0, 0
        for end, arrival in enumerate(arrivals):
            while arrivals[start] <= arrival - seconds:
                start += 1
            most = max(most, end - start + 1)
        return most

    def mean_rate(self) -> float:
        """Requests per second between the first and the last arrival."""
        arrivals = self.arrivals
        return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])


def median_window(trace: list[tuple[float, int]], start: float, end: float) -> float:
    """The time-weighted median of an ``AdaptiveStrategy`` window trace over ``[start, end)``.

    ``trace`` holds the ``(seconds, window)`` pairs its ``on_resize`` received.
    """
    spans: list[tuple[int, float]] = []
    for (begins, window), (ends, _) in zip(trace, [*trace[1:], (end, 0)], strict=True):
        length = min(ends, end) - max(begins, start)
        if length > 0:
            spans.append((window, length))
    if not spans:
        raise ValueError(f"the trace has no point in [{start}, {end})")
    spans.sort()
    half, total = sum(length for _, length in spans) / 2, 0.0
    for window, length in spans:
        total += length
        if total >= half:
            return window
    return spans[-1][0]


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
