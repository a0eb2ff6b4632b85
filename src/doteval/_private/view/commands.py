"""The ``doteval view`` and ``doteval report`` commands.

Importing this module needs only click: the web stack (the ``view`` extra) is
imported when a command runs, so ``doteval --help`` works without it and the
commands can say how to install it.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import webbrowser
from typing import Any

import click

from doteval._private.storage.urls import require_store
from doteval._private.text import install_hint
from doteval.storage import StorageError, default_url

INSTALL_HINT = f'install the "view" extra: {install_hint("view")}'
"""How to get the extra (the PyPI project named doteval is not this one)."""

DEFAULT_PORT = 7575
HOST_VARIABLE = "DOTEVAL_VIEW_HOST"


def require_extra(command: str, modules: tuple[str, ...]) -> None:
    """Fail with the install hint when a module of the ``view`` extra is missing."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            raise click.ClickException(f"doteval {command} needs {name}; {INSTALL_HINT}") from None


def _storage_url(url: str | None, command: str) -> str:
    url = url or default_url()
    if url.partition("://")[0].lower() == "memory":
        raise click.ClickException(
            f"{url} keeps runs inside the process that ran them, so doteval {command} "
            f"(another process) cannot see them; store the runs in sqlite://PATH or "
            f"jsonl://DIR and pass that as --storage"
        )
    try:
        return require_store(url)  # reading must not create one
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        listener = socket.create_server((host.strip("[]"), port), family=family)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); pass another --port, "
            f"or --port 0 for a free one"
        ) from None
    # Accepted connections inherit this: without it, a response written in two parts
    # waits for the client's delayed ACK (40 ms a request on Linux).
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return listener


def _storage_option(function: Any) -> Any:
    return click.option(
        "--storage",
        "storage_url",
        metavar="URL",
        default=None,
        help="sqlite://PATH or jsonl://DIR (default: $DOTEVAL_STORAGE, else "
        "sqlite://.doteval/doteval.db)",
    )(function)


@click.command()
@_storage_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar=HOST_VARIABLE,
    help="Address to listen on; anything but loopback must be given here explicitly.",
)
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0 picks a free port.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the viewer in a web browser.")
@click.pass_context
def view(
    context: click.Context, storage_url: str | None, host: str, port: int, open_browser: bool
) -> None:
    """Browse the stored experiments in a web browser (Ctrl-C stops the server)."""
    require_extra("view", ("starlette", "uvicorn", "jinja2"))
    import uvicorn

    from doteval._private.view.app import LOOPBACK_NAMES, create_app
    from doteval._private.view.source import Source

    url = _storage_url(storage_url, "view")
    allowed: tuple[str, ...] | None = LOOPBACK_NAMES
    if not is_loopback(host):
        source_of_host = context.get_parameter_source("host")
        if source_of_host is not click.core.ParameterSource.COMMANDLINE:
            raise click.ClickException(
                f"refusing to listen on {host} (from ${HOST_VARIABLE}): the viewer has no "
                f"login, so anyone who reaches {host} could read every result; pass "
                f"--host {host} on the command line to do it on purpose"
            )
        click.echo(
            f"Warning: listening on {host}: the viewer has no login, so anyone who can "
            f"reach this address can read every stored result.",
            err=True,
        )
        wildcard = host.strip("[]") in ("0.0.0.0", "::")
        allowed = None if wildcard else (*LOOPBACK_NAMES, host)
    try:
        source = Source.open(url)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    app = create_app(source, allowed_hosts=allowed)
    listener = _bind(host, port)
    bound = listener.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    address = f"http://{shown}:{bound}/"
    click.echo(f"doteval view: {source.url} at {address} (Ctrl-C to stop)")
    sys.stdout.flush()
    if open_browser:
        webbrowser.open(address)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    )
    try:
        server.run(sockets=[listener])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down on
        pass
    finally:
        listener.close()
    click.echo("doteval view: stopped.")


@click.command()
@click.argument("experiment")
@click.option(
    "--output",
    "-o",
    default="report.html",
    show_default=True,
    type=click.Path(dir_okay=False, writable=True),
    help="The HTML file to write.",
)
@click.option(
    "--items",
    default=500,
    show_default=True,
    type=click.IntRange(0),
    help="Items shown per evaluation (every error is shown besides).",
)
@_storage_option
def report(experiment: str, output: str, items: int, storage_url: str | None) -> None:
    """Write EXPERIMENT as one self-contained HTML file (CSS, JS and data inlined)."""
    require_extra("report", ("jinja2",))
    from doteval._private.view.report import write_report
    from doteval._private.view.source import NotFound

    url = _storage_url(storage_url, "report")
    try:
        path = write_report(experiment, output, storage=url, items=items)
    except (NotFound, StorageError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Wrote the report of {experiment} to {path}.")
