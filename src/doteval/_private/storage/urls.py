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
