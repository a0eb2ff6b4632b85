"""The viewer's ASGI application: Starlette routes over one :class:`Source`."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from importlib.resources import files
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from doteval._private.view import pages
from doteval._private.view.source import BadQuery, NotFound, Source
from doteval._private.view.templating import compile_all, render
from doteval.storage import Storage, Store

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        # No inline script runs; Vega compiles its expressions with Function(), hence eval.
        b"default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' "
        b"'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; "
        b"base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class _SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, sending)


def _page(
    template: str, gather: Callable[[Source, Request], dict[str, Any]]
) -> Callable[[Request], Any]:
    """A route that gathers its data in a worker thread and renders ``template``."""

    async def endpoint(request: Request) -> Response:
        source: Source = request.app.state.source
        context = await anyio.to_thread.run_sync(functools.partial(gather, source, request))
        return HTMLResponse(render(template, url=source.url, **context))

    return endpoint


def _query(request: Request) -> dict[str, str]:
    return dict(request.query_params)


def _experiments(source: Source, request: Request) -> dict[str, Any]:
    return pages.experiments_page(source)


def _experiment(source: Source, request: Request) -> dict[str, Any]:
    return pages.experiments_page(source, request.path_params["experiment"])


def _evaluation(source: Source, request: Request) -> dict[str, Any]:
    params = request.path_params
    return pages.evaluation_page(
        source, params["experiment"], params["evaluation"], _query(request)
    )


def _item(source: Source, request: Request) -> dict[str, Any]:
    params = request.path_params
    return pages.item_page(
        source, params["experiment"], params["evaluation"], params["item_id"], _query(request)
    )


def _history(source: Source, request: Request) -> dict[str, Any]:
    return pages.history_page(source, request.path_params["evaluation"])


def _compare(source: Source, request: Request) -> dict[str, Any]:
    return pages.compare_page(source, _query(request))


def _error_page(status: int, title: str, message: str, url: str) -> HTMLResponse:
    return HTMLResponse(
        render("error.html", status=status, title=title, message=message, url=url),
        status_code=status,
    )


async def _not_found(request: Request, exc: Exception) -> Response:
    message = str(exc) if isinstance(exc, NotFound) else f"there is no page at {request.url.path}"
    return _error_page(404, "Not found", message, request.app.state.source.url)


async def _bad_query(request: Request, exc: Exception) -> Response:
    return _error_page(400, "Bad request", str(exc), request.app.state.source.url)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return await _not_found(request, exc)
    return _error_page(exc.status_code, "Error", str(exc.detail), request.app.state.source.url)


def static_files() -> StaticFiles:
    """The package's own assets and nothing else (StaticFiles refuses paths leaving them)."""
    directory = files("doteval._private.view").joinpath("static")
    return StaticFiles(directory=str(directory), follow_symlink=False)


def create_app(
    storage: str | Storage | Store | Source | None = None,
    *,
    allowed_hosts: Sequence[str] | None = LOOPBACK_NAMES,
) -> Starlette:
    """The viewer over ``storage`` (a URL, a ``Storage``, or an open :class:`Source`).

    ``allowed_hosts`` are the ``Host`` headers answered (``None``: any): a loopback
    server refuses other names, so a web page cannot read it through DNS rebinding.
    """
    source = storage if isinstance(storage, Source) else Source.open(storage)
    compile_all()
    middleware = [Middleware(_SecurityHeaders)]
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    app = Starlette(
        routes=[
            Route("/", _page("experiments.html", _experiments)),
            Route("/experiments/{experiment}", _page("experiments.html", _experiment)),
            Route(
                "/evaluations/{experiment}/{evaluation:path}",
                _page("evaluation.html", _evaluation),
            ),
            Route(
                "/items/{experiment}/{item_id:int}/{evaluation:path}",
                _page("item.html", _item),
            ),
            Route("/history/{evaluation:path}", _page("history.html", _history)),
            Route("/compare", _page("compare.html", _compare)),
            Mount("/static", app=static_files(), name="static"),
        ],
        middleware=middleware,
        exception_handlers={
            NotFound: _not_found,
            BadQuery: _bad_query,
            HTTPException: _http_error,
        },
    )
    app.state.source = source
    return app
