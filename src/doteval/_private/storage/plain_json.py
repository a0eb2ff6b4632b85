"""Which values orjson writes as the standard library's ``json`` does.

orjson is ten times faster than ``json``, but writes NaN and infinity as ``null``, an
enum as its value and a uuid as its text, and spells some floats differently
(``1e16`` for ``1e+16``). A value of JSON's own types (no subclass) takes orjson;
any other keeps ``json``, so what is stored or hashed never changes.
"""

from __future__ import annotations

from math import isfinite
from typing import Any

SCALARS = frozenset((str, int, bool, type(None)))
"""Types both encoders write alike, checked by exact type (a subclass is not plain)."""
DEEPEST = 64
"""Containers nested deeper than this take ``json`` (orjson stops at 255)."""


def is_plain(value: Any, floats: bool = True, depth: int = 0) -> bool:
    """Whether ``value`` holds JSON's own types only, finite floats (none at all unless
    ``floats``: their spelling differs), nested at most :data:`DEEPEST` deep.

    Integers beyond 64 bits, non-string keys and lone surrogates pass, and make orjson
    raise ``orjson.JSONEncodeError``: the caller takes ``json`` then.
    """
    kind = type(value)
    if kind in SCALARS:
        return True
    if kind is float:
        return floats and isfinite(value)
    if depth >= DEEPEST:
        return False
    items: Any
    if kind is dict:
        items = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        return False
    for item in items:  # the common scalars inline: a call per value would double the cost
        kind = type(item)
        if kind in SCALARS:
            continue
        if kind is float:
            if not (floats and isfinite(item)):
                return False
        elif not is_plain(item, floats, depth + 1):
            return False
    return True
