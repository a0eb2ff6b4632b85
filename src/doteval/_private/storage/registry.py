"""Choosing a backend by URL scheme: built-ins from a static table, others by entry point.

No backend module is imported until a URL names it, and the entry-point group is
read only for a scheme that is not built in (reading it costs start-up time).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from doteval._private.errors import StorageError
from doteval._private.plugins import Group
from doteval._private.protocols import provides
from doteval._private.storage.policy import Store
from doteval._private.storage.protocol import Storage

DEFAULT_URL = "sqlite://.doteval/doteval.db"
"""Where runs go unless ``storage=`` or ``DOTEVAL_STORAGE`` says otherwise (relative to the cwd)."""

ENTRY_POINT_GROUP = "doteval.storage"
"""Third-party backends register ``scheme = "package.module:factory"`` here; the factory
takes the whole URL and returns a ``Storage``."""

BUILTIN = {
    "sqlite": "doteval._private.storage.backends.sqlite:open_backend",
    "jsonl": "doteval._private.storage.backends.jsonl:open_backend",
    "postgresql": "doteval._private.storage.backends.postgres:open_backend",
    "postgres": "doteval._private.storage.backends.postgres:open_backend",
    "memory": "doteval._private.storage.backends.memory:open_backend",
}
"""The factory of each built-in scheme, as ``module:function``."""


def default_url() -> str:
    return os.environ.get("DOTEVAL_STORAGE") or DEFAULT_URL


def _scheme(url: str) -> str:
    scheme, separator, _ = url.partition("://")
    if not separator or not scheme:
        raise StorageError(
            f"storage {url!r} is not a storage URL; use sqlite://PATH, jsonl://DIR, "
            f"postgresql://USER:PASSWORD@HOST:PORT/DB or memory:// (for example {DEFAULT_URL!r})"
        )
    return scheme.lower()


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


STORAGE_PLUGINS = Group(ENTRY_POINT_GROUP, "storage backend", callable, "a callable taking a URL")


def _third_party(scheme: str, url: str) -> Any:
    found = STORAGE_PLUGINS.find(scheme)
    if found is None:
        raise StorageError(
            f"no storage backend for {scheme}:// in {url!r}; the built-in ones are "
            f"{', '.join(f'{name}://' for name in list(BUILTIN)[:-1])} and "
            f"{list(BUILTIN)[-1]}://, and packages add others "
            f"through the {ENTRY_POINT_GROUP!r} entry-point group"
        )
    return found


def open_storage(url: str | Storage | Store | None = None) -> Store:
    """The store for ``url`` (default: ``DOTEVAL_STORAGE``, else ``.doteval/doteval.db``),
    or ``url`` itself wrapped in doteval's rules when it is a backend object."""
    if isinstance(url, Store):
        return url
    if url is not None and not isinstance(url, str):
        if provides(url, Storage):
            return Store(url)
        raise TypeError(f"storage must be a URL string or a Storage object, got {url!r}")
    url = url or default_url()
    scheme = _scheme(url)
    target = BUILTIN.get(scheme)
    factory = _load(target) if target is not None else _third_party(scheme, url)
    backend = factory(url)
    if isinstance(backend, Store):
        return backend
    if not provides(backend, Storage):
        raise StorageError(f"the {scheme}:// backend returned {backend!r}, not a Storage")
    return Store(backend)
