"""Shared fixtures: every async test runs on asyncio and on trio."""

from __future__ import annotations

import importlib
import importlib.util
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_llm_server import FakeLLMServer
from postgres_server import MissingServer, server_for_tests, unavailable


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session", autouse=True)
def _ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C raises ``KeyboardInterrupt`` here and in the processes the tests start, as
    in a terminal: a shell without job control starts a background job with SIGINT
    ignored, Python then leaves it ignored, and so would every process it starts."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(autouse=True)
def _no_files_in_checkout(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run in a temporary directory so nothing lands in the working tree."""
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _hf_cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``datasets`` library caches (and locks) in tmp_path, not in the user's home:
    through the environment for its first import, through its config once imported."""
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    config = sys.modules.get("datasets.config")
    if config is not None:
        monkeypatch.setattr(config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")


@pytest.fixture(scope="session", autouse=True)
def _dict_backend_installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Install tests/dict_backend as a third-party package would be: a distribution
    whose entry point registers the ``dict://`` scheme in the ``doteval.storage`` group."""
    site = tmp_path_factory.mktemp("site-packages")
    info = site / "doteval_dict_backend-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: doteval-dict-backend\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[doteval.storage]\ndict = dict_backend.store:open_backend\n", encoding="utf-8"
    )
    sys.path.append(str(site))
    importlib.invalidate_caches()
    yield
    sys.path.remove(str(site))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A PostgreSQL server for this test process (tests/postgres_server.py): the one
    ``DOTEVAL_TEST_POSTGRES`` names, else a throwaway cluster, stopped at the end. Without
    one the tests skip, saying why; in CI they fail instead."""
    if importlib.util.find_spec("psycopg") is None:
        unavailable('the postgres tests need psycopg: pip install -e ".[test]"')
    try:
        with server_for_tests() as server:
            yield server
    except MissingServer as exc:
        unavailable(str(exc))


@pytest.fixture
def postgres_url(postgres_server: Any) -> Iterator[str]:
    """The URL of a fresh, empty database (dropped after the test), password included."""
    database = postgres_server.create_database()
    try:
        yield str(postgres_server.url(database))
    finally:
        postgres_server.drop_database(database)


def _fresh_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param in ("memory", "dict"):
        return f"{request.param}://{request.node.nodeid}"
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    suffix = "doteval.db" if request.param == "sqlite" else "runs"
    return f"{request.param}://{tmp_path / 'store' / suffix}"


@pytest.fixture(params=["sqlite", "jsonl", "memory", "dict", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each kind: the built-in ones (postgres on a real server),
    and a third-party backend (tests/dict_backend) loaded through its entry point;
    in-process ones under a name of their own."""
    return _fresh_store(request, tmp_path)


@pytest.fixture(params=["sqlite", "jsonl", "memory", "postgres"])
def epoch_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of each kind that keeps a record per epoch (``stores_epochs``): the
    third-party test backend keeps one per item, and refuses epochs."""
    return _fresh_store(request, tmp_path)


@pytest.fixture(params=["sqlite", "jsonl", "memory", "postgres"])
def shard_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of each kind that runs shards (``ShardedRuns``): the third-party test
    backend lacks that capability, and refuses them."""
    return _fresh_store(request, tmp_path)


@pytest.fixture(scope="session")
def _llm_server_process() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def llm_server(
    _llm_server_process: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> FakeLLMServer:
    """The fake LLM server (tests/fake_llm_server.py), reset, with the clients pointed at it.

    The OpenAI and Anthropic clients read their base URL and key from the
    environment, so the spec's examples reach it unchanged.
    """
    server = _llm_server_process
    server.configure()
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-fake")
    return server
