"""How the tests get a PostgreSQL server: the ``start DIR`` / ``stop DIR`` entry of
tests/postgres_server.py that .ci/run uses, and skipping (on a developer's machine) or
failing (in CI) when there is none.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

import postgres_server
from postgres_server import ENVIRONMENT, MissingServer, find_binaries, unavailable

SCRIPT = Path(__file__).with_name("postgres_server.py")


def server(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def test_start_prints_a_url_that_serves_and_stop_ends_the_server_and_its_directory() -> None:
    try:
        find_binaries()
    except MissingServer as exc:
        unavailable(str(exc))
    # As .ci/run does (mktemp -d): pytest's tmp_path is closed to the server's user.
    directory = Path(tempfile.mkdtemp(prefix="doteval-test-pg-"))
    started = server("start", str(directory))
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    try:
        assert url.startswith("postgresql://doteval:")
        with psycopg.connect(url, autocommit=True) as connection:
            [(user,)] = connection.execute("SELECT current_user").fetchall()
            connection.execute("CREATE DATABASE from_ci")
        assert user == "doteval"
    finally:
        stopped = server("stop", str(directory))
    left = directory.exists()
    shutil.rmtree(directory, ignore_errors=True)
    assert stopped.returncode == 0, stopped.stderr
    assert not left
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=5)


def test_start_refuses_a_directory_in_use(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    done = server("start", str(tmp_path))
    assert done.returncode == 2
    assert "is not empty: start a cluster in a new directory" in done.stderr
    assert (tmp_path / "something").exists()


def test_a_bad_command_prints_the_usage() -> None:
    done = server("begin")
    assert (done.returncode, done.stderr.strip()) == (
        2,
        "usage: python tests/postgres_server.py start|stop DIR",
    )


def test_a_missing_binary_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(postgres_server.glob, "glob", lambda pattern: [])
    with pytest.raises(MissingServer, match=r"initdb and pg_ctl not on PATH .* set DOTEVAL_TEST"):
        find_binaries()


@pytest.mark.parametrize(
    ("environment", "outcome"),
    [
        ({}, pytest.skip.Exception),
        ({"CI": "true"}, pytest.fail.Exception),
        ({ENVIRONMENT: "postgresql://u:p@127.0.0.1:1/postgres"}, pytest.fail.Exception),
    ],
)
def test_no_server_skips_on_a_developers_machine_and_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], outcome: type[BaseException]
) -> None:
    for variable in ("CI", ENVIRONMENT):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(outcome, match="initdb not on PATH"):
        unavailable("PostgreSQL server binaries not found: initdb not on PATH")
