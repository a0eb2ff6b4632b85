"""Which exceptions are worth retrying, recognised without importing any client library."""

from __future__ import annotations

import errno
import socket
import time
from typing import Any

# Names of transient error classes in httpx, openai, anthropic and aiohttp. Matching on
# names in the MRO keeps those packages optional and unimported. httpx's other
# TransportErrors (UnsupportedProtocol, ProxyError, LocalProtocolError) are
# configuration mistakes that no retry fixes.
_TRANSIENT_CLASS_NAMES = frozenset(
    {
        "APIConnectionError",
        "APITimeoutError",
        "RateLimitError",
        "InternalServerError",
        "NetworkError",
        "RemoteProtocolError",
        "TimeoutException",
        "ClientConnectionError",
        "ServerDisconnectedError",
        "ClientPayloadError",
    }
)

# A server that is overloaded says so with these statuses (529: Anthropic's "overloaded").
_OVERLOAD_STATUSES = frozenset({429, 503, 529})
_TIMEOUT_CLASS_NAMES = frozenset({"APITimeoutError", "TimeoutException"})

_NETWORK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ECONNRESET",
        "ECONNREFUSED",
        "ECONNABORTED",
        "EPIPE",
        "ETIMEDOUT",
        "EHOSTUNREACH",
        "ENETUNREACH",
        "ENETDOWN",
        "EHOSTDOWN",
    )
    if hasattr(errno, name)
) | {socket.EAI_AGAIN}  # a DNS lookup that may succeed later (errno has no EAI_* codes)


def _status_code(exc: BaseException) -> int | None:
    for holder in (exc, getattr(exc, "response", None)):
        status = getattr(holder, "status_code", None) or getattr(holder, "status", None)
        if isinstance(status, int):
            return status
    return None


def _header(headers: Any, name: str) -> Any:
    """A header from a case-insensitive mapping (httpx, aiohttp) or a plain dict."""
    value = headers.get(name)
    return headers.get(name.title()) if value is None else value


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``Retry-After``)."""
    headers: Any = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        headers = getattr(exc, "headers", None)
    if headers is None or not hasattr(headers, "get"):
        return None
    milliseconds = _header(headers, "retry-after-ms")
    if milliseconds is not None:
        try:
            return max(float(milliseconds) / 1000, 0.0)
        except ValueError:
            pass
    seconds = _header(headers, "retry-after")
    if seconds is None:
        return None
    try:
        return max(float(seconds), 0.0)
    except ValueError:
        pass
    import email.utils  # deferred: start-up time; only an HTTP-date header needs it

    try:
        moment = email.utils.parsedate_to_datetime(seconds)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - time.time(), 0.0)


def is_transient(exc: BaseException) -> bool:
    """True for errors that a later attempt may not hit: network, timeouts, 429, 5xx."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
        return True
    status = _status_code(exc)
    if status is not None and (status == 429 or 500 <= status < 600):
        return True
    return any(kind.__name__ in _TRANSIENT_CLASS_NAMES for kind in type(exc).__mro__)


def is_overload(exc: BaseException) -> bool:
    """True for the signs of too much concurrency: 429, 503, 529 and timeouts."""
    if isinstance(exc, TimeoutError) or _status_code(exc) in _OVERLOAD_STATUSES:
        return True
    return any(kind.__name__ in _TIMEOUT_CLASS_NAMES for kind in type(exc).__mro__)
