"""Keeping the ``datasets`` library's cache out of the user's home during tests."""

from __future__ import annotations

from pathlib import Path

import pytest


def temporary_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the library's cache at ``tmp_path`` (it reads the setting at each load)."""
    cache = tmp_path / "hf-cache"
    try:
        import datasets.config
    except ImportError:
        return cache
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    return cache
