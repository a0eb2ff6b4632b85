"""``doteval view`` on the command line: a real server in a subprocess, stopped with
Ctrl-C, and the refusals that protect results from the network."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

pytest.importorskip("uvicorn", reason="the viewer needs the view extra")

from doteval._private.cli.main import main
from view_server import Server
from view_stores import filled


@pytest.fixture
def url(tmp_path: Path) -> str:
    return filled("sqlite", tmp_path)


@pytest.fixture
def server(url: str) -> Iterator[Server]:
    running = Server("--storage", url)
    yield running
    running.stop()


def test_view_serves_the_store_on_loopback_and_stops_cleanly_on_ctrl_c(server: Server) -> None:
    assert server.address.startswith("http://127.0.0.1:")
    response = httpx.get(server.address, timeout=30)
    assert response.status_code == 200
    assert "baseline" in response.text
    assert server.stop() == 0
    assert "Traceback" not in server.stderr
    assert "KeyboardInterrupt" not in server.stderr
    assert any("stopped" in line for line in server.lines)


def test_an_explicit_non_loopback_host_is_served_with_a_warning(url: str) -> None:
    running = Server("--storage", url, "--host", "0.0.0.0")
    try:
        assert running.address.startswith("http://0.0.0.0:")
        port = running.address.rsplit(":", 1)[1]
        assert httpx.get(f"http://127.0.0.1:{port}", timeout=30).status_code == 200
    finally:
        running.stop()
    assert "Warning: listening on 0.0.0.0" in running.stderr
    assert "no login" in running.stderr


def invoke(*args: str, **env: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def test_a_non_loopback_host_from_the_environment_is_refused(url: str) -> None:
    code, output = invoke("view", "--storage", url, DOTEVAL_VIEW_HOST="0.0.0.0")
    assert code == 1
    assert "refusing to listen on 0.0.0.0 (from $DOTEVAL_VIEW_HOST)" in output
    assert "pass --host 0.0.0.0 on the command line" in output


def test_a_memory_store_is_refused_with_the_reason(tmp_path: Path) -> None:
    code, output = invoke("view", "--storage", "memory://")
    assert code == 1
    assert "keeps runs inside the process that ran them" in output
    assert "sqlite://PATH or jsonl://DIR" in output


def test_a_missing_sqlite_store_is_refused_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nothing.db"
    code, output = invoke("view", "--storage", f"sqlite://{path}")
    assert code == 1
    assert "there is no store at" in output
    assert not path.exists()


def test_a_busy_port_says_how_to_pick_another(url: str) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, output = invoke("view", "--storage", url, "--port", str(port))
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in output
    assert "--port 0" in output


def test_view_without_the_extra_says_how_to_install_it(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "starlette", None)  # import starlette now fails
    code, output = invoke("view", "--storage", url)
    assert code == 1
    assert "doteval view needs starlette" in output
    assert 'pip install ".[view]"' in output
    assert 'pip install "doteval[view] @ git+' in output
    assert "pip install doteval[view]" not in output


def test_open_starts_a_browser_on_the_address(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda address: opened.append(address))
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    code, output = invoke("view", "--storage", url, "--port", "0", "--open")
    assert code == 0, output
    (address,) = re.findall(r"http://127\.0\.0\.1:\d+/", output)
    assert opened == [address]


def test_the_pytest_option_is_listed_in_help(pytester: Any) -> None:
    result = pytester.runpytest_inprocess("--help")
    result.stdout.fnmatch_lines(["*--doteval-html=PATH*write the session*"])


pytest_plugins = ["pytester"]
