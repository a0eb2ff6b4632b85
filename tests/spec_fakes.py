"""Deterministic stand-ins for the names the spec page uses without defining them.

The user's page (docs/async.md tells its story) refers to ``async_model``,
``api_call``, ``api_client`` and friends as if the reader had them at hand.
``page_names()`` returns a fresh set of them for one test. Every fake is built on
``doteval.testing.FakeModel`` (it answers arithmetic questions correctly) and uses
only anyio, so the same fakes serve asyncio and trio.

Also here: a local HTTP server for the connection-pooling example, and virtual
clocks that let the retry examples keep their multi-second waits verbatim.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import selectors
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aiohttp
import anyio
import attrs

from doteval.testing import FakeModel

DATASET = [("What is 2+2?", "4"), ("What is 3+3?", "6")]
"""The page's own two-question dataset (its first example defines it)."""

BATCHED_DATASET = [
    (["What is 1+1?", "What is 2+2?", "What is 3+3?"], ["2", "4", "6"]),
    (["What is 5*5?", "What is 9-4?"], ["25", "7"]),  # 9-4 is 5: wrong on purpose
]
"""Two batches, five questions, one wrong expected answer: accuracy 4/5 shows that
every score of a batch counts in the summary."""


class FakeAPIError(Exception):
    """What ``unreliable_api_call`` raises: not a transient error, so never retried."""


@attrs.define
class Response:
    """An HTTP-ish response: ``status_code`` and ``text``."""

    status_code: int
    text: str = ""


class SpecModel(FakeModel):
    """``model``: a FakeModel that also answers a batch of prompts in one call."""

    async def generate_batch(self, prompts: list[str]) -> list[str]:
        await anyio.lowlevel.checkpoint()
        return [self.answer(prompt) for prompt in prompts]


@attrs.define
class RecordingAPI:
    """``api_call(prompt)``: answers like FakeModel and notes when each call started."""

    model: FakeModel = attrs.field(factory=FakeModel)
    started: list[float] = attrs.field(factory=list)

    async def __call__(self, prompt: str) -> str:
        self.started.append(anyio.current_time())
        return await self.model.generate(prompt)


@attrs.define
class FlakyClient:
    """``api_client``: fails the first call for each prompt, then answers.

    ``generate`` first raises ``aiohttp.ClientConnectionError`` (an
    ``aiohttp.ClientError``); ``request`` first returns a 429 ``Response``.
    """

    model: FakeModel = attrs.field(factory=FakeModel)
    calls: list[str] = attrs.field(factory=list)
    _failed_generate: set[str] = attrs.field(factory=set)
    _failed_request: set[str] = attrs.field(factory=set)

    async def generate(self, prompt: str) -> str:
        self.calls.append(prompt)
        await anyio.lowlevel.checkpoint()
        if prompt not in self._failed_generate:
            self._failed_generate.add(prompt)
            raise aiohttp.ClientConnectionError("connection reset by peer (fake)")
        return self.model.answer(prompt)

    async def request(self, prompt: str) -> Response:
        self.calls.append(prompt)
        await anyio.lowlevel.checkpoint()
        if prompt not in self._failed_request:
            self._failed_request.add(prompt)
            return Response(429)
        return Response(200, self.model.answer(prompt))


async def unreliable_api_call(prompt: str) -> str:
    """Answers like FakeModel, but always fails on "What is 3+3?"."""
    await anyio.lowlevel.checkpoint()
    if "3+3" in prompt:
        raise FakeAPIError(f"the service refused {prompt!r}")
    return FakeModel().answer(prompt)


@attrs.define
class BlockingModel:
    """``synchronous_model``: a blocking client whose ``generate`` sleeps ``delay`` s."""

    delay: float = 0.1
    model: FakeModel = attrs.field(factory=FakeModel)

    def generate(self, prompt: str) -> str:
        time.sleep(self.delay)
        return self.model.answer(prompt)


@attrs.define
class ClosableClient:
    """What ``create_client()`` returns: a FakeModel client that must be closed."""

    model: FakeModel = attrs.field(factory=FakeModel)
    closed: bool = False

    async def generate(self, prompt: str) -> str:
        if self.closed:
            raise RuntimeError("client used after close()")
        return await self.model.generate(prompt)

    async def close(self) -> None:
        await anyio.lowlevel.checkpoint()
        self.closed = True


@attrs.define
class ClientFactory:
    """``create_client()``: an async factory that remembers the clients it made."""

    made: list[ClosableClient] = attrs.field(factory=list)

    async def __call__(self) -> ClosableClient:
        await anyio.lowlevel.checkpoint()
        client = ClosableClient()
        self.made.append(client)
        return client


def page_names() -> dict[str, Any]:
    """Fresh fakes for one test, under the names the page uses."""
    return {
        "dataset": list(DATASET),
        "async_model": FakeModel(),
        "model": SpecModel(),
        "api_call": RecordingAPI(),
        "api_client": FlakyClient(),
        "unreliable_api_call": unreliable_api_call,
        "synchronous_model": BlockingModel(),
        "batched_dataset": list(BATCHED_DATASET),
        "create_client": ClientFactory(),
    }


# --- a local HTTP server for the connection-pooling example --------------------------


class _AnswerHandler(BaseHTTPRequestHandler):
    """POST {"prompt": ...} -> {"text": FakeModel's answer}; keeps connections alive."""

    protocol_version = "HTTP/1.1"
    timeout = 5  # a client that never closes its connection cannot pin a thread

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        prompt = json.loads(self.rfile.read(length))["prompt"]
        body = json.dumps({"text": FakeModel().answer(prompt)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.requests += 1  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is not the place for access logs."""


@contextlib.contextmanager
def answer_server() -> Iterator[ThreadingHTTPServer]:
    """A JSON answer server on 127.0.0.1, stopped (and its port closed) on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AnswerHandler)
    server.daemon_threads = True
    server.requests = 0  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, name="answer-server"
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def server_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


# --- virtual time on asyncio ---------------------------------------------------------


class _JumpingSelector(selectors.BaseSelector):
    """A selector that, instead of sleeping until the next timer, moves the clock there."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._real = selectors.DefaultSelector()
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:  # no timer pending: wait for I/O, such as a thread waking us
            return self._real.select(None)
        ready = self._real.select(0)
        if not ready and timeout > 0:
            self._loop.now += timeout
        return ready

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """asyncio's counterpart of ``trio.testing.MockClock(autojump_threshold=0)``.

    Whenever every task waits for a timer, time jumps to that timer, so a retry
    policy's 4-second wait passes at once. For examples without threads only.
    """

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self.now
