"""Storage URLs: the path in a file store's URL, and a URL fit to show (password masked)."""

from __future__ import annotations

import os

from doteval._private.errors import StorageError


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, fit to show and to store."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    authority, slash, path = rest.partition("/")
    user, at, host = authority.rpartition("@")
    if not at or ":" not in user:
        return url
    name = user.partition(":")[0]
    return f"{scheme}://{name}:***@{host}{slash}{path}"


def local_path(url: str) -> str:
    """The absolute path in ``sqlite://PATH`` or ``jsonl://DIR`` (``~`` expanded)."""
    rest = url.partition("://")[2]
    if not rest or "\x00" in rest:
        raise StorageError(f"storage URL {url!r} needs a path, e.g. 'sqlite://.doteval/doteval.db'")
    return os.path.abspath(os.path.expanduser(rest))


FILE_SCHEMES = frozenset({"sqlite", "jsonl"})
"""Stores that are a file or a directory, which opening for a run creates."""


def require_store(url: str) -> str:
    """``url``, unless it names a file store that does not exist: reading one must not
    create it, and an empty new store would hide that the wrong one was named."""
    scheme = url.partition("://")[0].lower()
    if scheme not in FILE_SCHEMES:
        return url
    path = local_path(url)
    if not os.path.exists(path):
        raise StorageError(
            f"there is no store at {path} ({mask_url(url)}): run an evaluation into it first, "
            f"or name the store your runs went to with --storage URL or the DOTEVAL_STORAGE "
            f"environment variable"
        )
    return url
