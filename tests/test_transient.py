"""Which errors the default retry policy retries, and how long a server asks us to wait."""

from __future__ import annotations

import email.utils
import errno
import socket
import time

import pytest

from doteval import RetryPolicy
from doteval._private.retry.transient import retry_after

is_transient = RetryPolicy().on


class _Response:
    def __init__(self, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        self.status_code = status_code
        self.headers = headers or {}


class HTTPStatusError(Exception):
    """Shaped like httpx's and the OpenAI/Anthropic SDKs' errors: the status on a response."""

    def __init__(self, status_code: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status_code}")
        self.response = _Response(status_code, headers)


class StatusError(Exception):
    """Shaped like the SDKs' APIStatusError: ``status_code`` on the exception itself."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code


class ClientResponseError(Exception):
    """Shaped like aiohttp's: ``status`` on the exception."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def _named(name: str, base: type[Exception] = Exception) -> Exception:
    """An instance of a class called ``name``, like a client library's exception."""
    return type(name, (base,), {})("boom")


@pytest.mark.parametrize(
    "error",
    [
        ConnectionError("reset"),
        ConnectionResetError(),
        ConnectionRefusedError(),
        BrokenPipeError(),
        TimeoutError("slow"),
        OSError(errno.ENETUNREACH, "Network is unreachable"),
        OSError(errno.EHOSTUNREACH, "No route to host"),
        socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
        HTTPStatusError(429),
        HTTPStatusError(500),
        HTTPStatusError(503),
        StatusError(502),
        StatusError(529),
        ClientResponseError(504),
        _named("APIConnectionError"),
        _named("APITimeoutError"),
        _named("RateLimitError"),
        _named("InternalServerError"),
        _named("ServerDisconnectedError"),
        type("ReadError", (_named("NetworkError").__class__,), {})("subclass of a named one"),
    ],
    ids=lambda error: type(error).__name__ + str(getattr(error, "errno", "") or ""),
)
def test_transient_errors_are_retried(error: Exception) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad answer"),
        KeyError("choices"),
        TypeError("wrong call"),
        RuntimeError("bug"),
        FileNotFoundError(errno.ENOENT, "No such file"),
        PermissionError(errno.EACCES, "Permission denied"),
        socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        HTTPStatusError(400),
        HTTPStatusError(401),
        HTTPStatusError(404),
        StatusError(422),
        ClientResponseError(403),
        _named("AuthenticationError"),
        _named("BadRequestError"),
        _named("UnsupportedProtocol"),
    ],
    ids=lambda error: type(error).__name__ + str(getattr(error, "errno", "") or ""),
)
def test_other_errors_are_not_retried(error: Exception) -> None:
    assert not is_transient(error)


# --- Retry-After --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "-4"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after-ms": "x", "retry-after": "1"}, 1.0),
        ({}, None),
    ],
)
def test_retry_after_header(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after(HTTPStatusError(429, headers)) == seconds


def test_retry_after_as_an_http_date() -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    wait = retry_after(HTTPStatusError(503, {"Retry-After": later}))
    assert wait is not None
    assert 25 < wait <= 31


def test_retry_after_on_the_exception_itself() -> None:
    error = StatusError(429)
    error.headers = {"retry-after": "7"}  # type: ignore[attr-defined]
    assert retry_after(error) == 7.0


def test_no_response_no_retry_after() -> None:
    assert retry_after(ConnectionError()) is None
