"""The hash stored with each record's row, against which a resumed run checks its dataset.

The hash must be the same for the same row in every process. ``repr`` is not: a
set's order depends on ``PYTHONHASHSEED``, and a dict built in another order
prints differently. The current scheme hashes a canonical JSON form (sorted dict
keys, sorted set elements, non-JSON values by type and address-free ``repr``) with
BLAKE2b (a row of JSON's own types and no floats is written by orjson, byte for byte
what ``json`` writes, and faster). Evaluations stored before it keep the CRC-32 of
the ``repr``: each evaluation's metadata says which scheme its rows were hashed with.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Callable
from typing import Any

import orjson

from doteval._private.errors import StorageError
from doteval._private.storage.plain_json import is_plain
from doteval._private.text import safe_repr

LEGACY = "crc32-repr"
"""The scheme of evaluations stored before row hashes were canonical."""

CURRENT = "blake2b-canonical"
"""The scheme new evaluations use."""

METADATA_KEY = "row_hash"
"""The key of an evaluation's metadata that names its scheme."""

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _without_addresses(text: str) -> str:
    return _ADDRESS.sub("", text) if " at 0x" in text else text


def legacy_row_hash(row: Any) -> int:
    """The CRC-32 of the row's ``repr``, minus object addresses."""
    text = _without_addresses(safe_repr(row))
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def _canonical_default(value: Any) -> Any:
    """What ``json.dumps`` writes for a value JSON has no form for."""
    if isinstance(value, (set, frozenset)):
        return {"set": sorted(_canonical(item) for item in value)}
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    kind = type(value)
    return {
        "object": f"{kind.__module__}.{kind.__qualname__}",
        "repr": _without_addresses(safe_repr(value)),
    }


def _canonical(value: Any) -> str:
    try:
        return json.dumps(
            value,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            default=_canonical_default,
        )
    except TypeError:  # dict keys of mixed types cannot be sorted by json: sort their forms
        if isinstance(value, dict):
            pairs = sorted((_canonical(key), _canonical(item)) for key, item in value.items())
            return "{" + ",".join(f"{key}:{item}" for key, item in pairs) + "}"
        if isinstance(value, (list, tuple)):
            return "[" + ",".join(_canonical(item) for item in value) + "]"
        return json.dumps(_canonical_default(value), sort_keys=True)


_BLAKE2B_8 = hashlib.blake2b(digest_size=8)


def canonical_row_hash(row: Any) -> int:
    """A 64-bit BLAKE2b hash of the row's canonical JSON form, as a signed integer (it
    fits an SQLite INTEGER)."""
    form: bytes | None = None
    if is_plain(row, floats=False):
        try:  # noqa: SIM105 - suppress() would be a third of the cost, at every stored row
            form = orjson.dumps(row, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # a big integer, a non-string key or a surrogate
            pass
    if form is None:
        try:
            text = _canonical(row)
        except (RecursionError, ValueError):  # nested too deeply, or a cycle
            text = f"<{type(row).__qualname__} nested too deeply to hash>"
        form = text.encode("utf-8", "surrogatepass")
    hasher = _BLAKE2B_8.copy()  # a copy is quicker than parsing digest_size each time
    hasher.update(form)
    return int.from_bytes(hasher.digest(), "big", signed=True)


HASHERS: dict[str, Callable[[Any], int]] = {
    LEGACY: legacy_row_hash,
    CURRENT: canonical_row_hash,
}


def row_hasher(scheme: str) -> Callable[[Any], int]:
    """The hash function of ``scheme``; an unknown one means a newer doteval wrote it."""
    try:
        return HASHERS[scheme]
    except KeyError:
        raise StorageError(
            f"the stored rows were hashed with {scheme!r}, which this version of doteval "
            f"does not know; upgrade doteval to resume this evaluation"
        ) from None
