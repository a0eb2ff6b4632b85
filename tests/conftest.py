"""Shared fixtures: every async test runs on asyncio and on trio."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _no_files_in_checkout(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run in a temporary directory so nothing lands in the working tree."""
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
