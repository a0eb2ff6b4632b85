"""A throwaway PostgreSQL cluster for the tests and benchmarks, or the server a URL names.

``PostgresCluster`` runs ``initdb`` into a temporary directory and ``pg_ctl start`` on
127.0.0.1 on a free port, with password authentication (so the tests can check that
a password never shows), as an unprivileged user when this process is root
(PostgreSQL refuses to run as root). ``ExternalServer`` wraps the server that
``DOTEVAL_TEST_POSTGRES`` names instead. Both hand out fresh databases.

Only the standard library is imported at module level, and psycopg when a database
is created: a machine without PostgreSQL can import this file to learn why the
postgres tests skip, and CI runs it with the system's Python before any install:

    python tests/postgres_server.py start DIR   # prints the server's URL
    python tests/postgres_server.py stop DIR    # stops it and removes DIR

In CI (``CI`` set, or ``DOTEVAL_TEST_POSTGRES`` exported) the postgres tests fail
rather than skip when no server can be had: see ``unavailable``.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

ENVIRONMENT = "DOTEVAL_TEST_POSTGRES"
"""A server URL (``postgresql://user:password@host:port/db``) to test against instead."""

USER = "doteval"
_counter = itertools.count()


class MissingServer(RuntimeError):
    """No PostgreSQL server binary here: the postgres tests skip with this message."""


def required() -> bool:
    """Whether the postgres tests must run: in CI, or when a server was provided."""
    return bool(os.environ.get("CI") or os.environ.get(ENVIRONMENT))


def unavailable(reason: str) -> NoReturn:
    """Skip a postgres test for ``reason``; fail it instead where it must run (``required``),
    so that a CI job without a server cannot pass by skipping them."""
    import pytest

    if required():
        pytest.fail(f"{reason} (CI or {ENVIRONMENT} is set: the postgres tests must run)")
    pytest.skip(reason)


def find_binaries() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: on PATH, else Debian's newest."""
    on_path = [shutil.which(name) for name in ("initdb", "pg_ctl")]
    if all(on_path):
        return Path(os.path.realpath(str(on_path[0]))).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: (
            int(Path(path).parent.parent.name) if Path(path).parent.parent.name.isdigit() else 0
        ),
    )
    for initdb in reversed(candidates):
        directory = Path(initdb).parent
        if (directory / "pg_ctl").exists():
            return directory
    missing = [name for name, found in zip(("initdb", "pg_ctl"), on_path, strict=True) if not found]
    raise MissingServer(
        f"PostgreSQL server binaries not found: {' and '.join(missing)} not on PATH and not "
        f"in /usr/lib/postgresql/*/bin; install PostgreSQL (apt-get install postgresql) or "
        f"set {ENVIRONMENT} to a server's URL"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _unprivileged_user() -> str | None:
    """Whom to run the server as: nobody else when not root; else ``postgres`` or ``nobody``."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise MissingServer("running as root, and neither a 'postgres' nor a 'nobody' user exists")


def _with_password(url: str, password: str) -> str:
    parts = urllib.parse.urlsplit(url)
    user = urllib.parse.unquote(parts.username or "")
    host = parts.hostname or "127.0.0.1"
    port = f":{parts.port}" if parts.port else ""
    credentials = urllib.parse.quote(user, safe="") + ":" + urllib.parse.quote(password, safe="")
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{credentials}@{host}{port}"))


def _with_database(url: str, database: str) -> str:
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path=f"/{database}"))


class _Server:
    """What the tests need of a server: its URL and fresh databases."""

    admin_url: str

    @property
    def password(self) -> str:
        return urllib.parse.unquote(urllib.parse.urlsplit(self.admin_url).password or "")

    def url(self, database: str) -> str:
        return _with_database(self.admin_url, database)

    def url_with_password(self, database: str, password: str) -> str:
        return _with_password(self.url(database), password)

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(self.admin_url, autocommit=True)

    def create_database(self, prefix: str = "doteval_test") -> str:
        """A new empty database; its name."""
        name = f"{prefix}_{os.getpid()}_{next(_counter)}_{secrets.token_hex(3)}"
        with self._admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending whatever is still connected to it."""
        with self._admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def terminate(self, database: str) -> int:
        """End every other connection to ``database`` as an administrator would; how many."""
        with self._admin() as connection:
            rows = connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchall()
        return sum(1 for (ended,) in rows if ended)


class ExternalServer(_Server):
    """The server ``DOTEVAL_TEST_POSTGRES`` names; it is never started or stopped here."""

    def __init__(self, url: str) -> None:
        self.admin_url = url

    def __enter__(self) -> ExternalServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


class PostgresCluster(_Server):
    """A cluster of its own in a temporary directory, on 127.0.0.1; removed on exit.

    ``durable=False`` (tests) turns ``fsync`` off, which makes ``CREATE DATABASE``
    quick; the benchmark keeps PostgreSQL's defaults so that its figures are fair.
    ``directory`` (an empty one, which ``close`` removes) instead of a new temporary one
    lets another process find the cluster again: see ``main``.
    """

    def __init__(self, *, durable: bool = False, directory: Path | None = None) -> None:
        self.bin = find_binaries()
        self.user = _unprivileged_user()
        self.durable = durable
        self.directory = directory or Path(tempfile.mkdtemp(prefix="doteval-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "server.log"
        self.port = 0
        self.admin_url = ""
        self._password = secrets.token_urlsafe(12)
        self._initialised = (self.data / "PG_VERSION").exists()  # by ``start DIR``, to stop

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        return subprocess.run(  # from a directory the server's user may enter
            [*prefix, *command],
            cwd=self.directory,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def _initialise(self) -> None:
        if self.user:
            shutil.chown(self.directory, self.user)
        password_file = self.directory / "password"
        password_file.write_text(self._password, encoding="utf-8")
        if self.user:
            shutil.chown(password_file, self.user)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            USER,
            "--auth=scram-sha-256",
            f"--pwfile={password_file}",
            "-E",
            "UTF8",
            "--locale=C",
            "-N",
        )
        password_file.unlink()
        self._initialised = True

    def _configure(self, port: int) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": f"'{self.directory}'",
            "max_connections": "200",
        }
        if not self.durable:
            settings.update(fsync="off", full_page_writes="off", synchronous_commit="off")
        lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
        (self.data / "postgresql.auto.conf").write_text(lines, encoding="utf-8")

    def start(self) -> None:
        """Start the server (on a new free port the first time, on the same one after)."""
        if not self._initialised:
            self._initialise()
        for _ in range(5):
            port = self.port or _free_port()
            self._configure(port)
            done = self._run(
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                "60",
                "start",
                check=False,
            )
            if done.returncode == 0:
                self.port = port
                self.admin_url = f"postgresql://{USER}:{self._password}@127.0.0.1:{port}/postgres"
                return
            if self.port:  # the port it had is taken now: nothing else to try
                break
        log = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}\n{log[-2000:]}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: end the sessions, then shut down cleanly)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    @property
    def running(self) -> bool:
        status = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "status", check=False)
        return status.returncode == 0

    def close(self) -> None:
        """Stop the server if it runs and remove its directory."""
        try:
            if self._initialised and self.running:
                self.stop("immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextlib.contextmanager
def server_for_tests() -> Iterator[_Server]:
    """The server ``DOTEVAL_TEST_POSTGRES`` names, else a cluster of its own (``MissingServer``
    when there is no binary to start one)."""
    external = os.environ.get(ENVIRONMENT)
    if external:
        with ExternalServer(external) as server:
            yield server
        return
    with PostgresCluster() as cluster:
        yield cluster


def main(argv: Sequence[str]) -> int:
    """``start DIR``: a cluster in DIR (empty or new), left running; its URL on stdout.
    ``stop DIR``: stop the cluster ``start`` left in DIR, and remove DIR. As root, DIR's
    parent must let the server's user in (``mktemp -d`` in /tmp does).

    For CI scripts, which export the URL as ``DOTEVAL_TEST_POSTGRES`` for the tests.
    """
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python tests/postgres_server.py start|stop DIR", file=sys.stderr)
        return 2
    command, directory = argv[0], Path(argv[1]).resolve()
    try:
        if command == "stop":
            PostgresCluster(directory=directory).close()
            return 0
        directory.mkdir(parents=True, exist_ok=True)
        if any(directory.iterdir()):
            print(f"{directory} is not empty: start a cluster in a new directory", file=sys.stderr)
            return 2
        cluster = PostgresCluster(directory=directory)
        try:
            cluster.start()
        except BaseException:
            cluster.close()
            raise
    except (MissingServer, RuntimeError, subprocess.SubprocessError) as exc:
        said = getattr(exc, "stderr", None) or ""
        print(f"postgres_server {command}: {exc}\n{said}".rstrip(), file=sys.stderr)
        return 1
    print(cluster.admin_url)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
