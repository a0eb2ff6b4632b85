"""Shared fixtures: every async test runs on asyncio and on trio."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_llm_server import FakeLLMServer


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


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


@pytest.fixture(params=["sqlite", "jsonl", "memory"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each built-in kind (memory:// under a name of its own)."""
    if request.param == "memory":
        return f"memory://{request.node.nodeid}"
    suffix = "doteval.db" if request.param == "sqlite" else "runs"
    return f"{request.param}://{tmp_path / 'store' / suffix}"


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
