"""Experiment names: fresh ones for anonymous runs, and checks that keep names inside a store."""

from __future__ import annotations

import difflib
import secrets
import time
import urllib.parse
from collections.abc import Iterable

from doteval._private.errors import InvalidNameError

MAX_NAME_LENGTH = 200


def fresh_experiment_name() -> str:
    """A sortable name for a run without ``experiment=``: UTC time, then a short random id."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def check_experiment_name(name: object) -> str:
    """``name`` if it is usable as a directory name; refuse anything that could escape."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidNameError(f"an experiment name must be a non-empty string, got {name!r}")
    problem = None
    if len(name) > MAX_NAME_LENGTH:
        problem = f"is longer than {MAX_NAME_LENGTH} characters"
    elif any(ord(char) < 32 for char in name):
        problem = "contains a control character (such as a NUL byte)"
    elif "/" in name or "\\" in name:
        problem = "contains a path separator"
    elif name in (".", "..") or name.startswith("."):
        problem = "starts with a dot"
    elif name != name.strip():
        problem = "starts or ends with white space"
    if problem is not None:
        raise InvalidNameError(
            f"experiment name {name!r} {problem}, which could escape the storage "
            f"directory; use letters, digits, '-', '_' and '.' (e.g. 'gpt4-baseline')"
        )
    return name


def check_evaluation_name(name: object) -> str:
    """Evaluation names are module paths or pytest node ids; only NULs and blanks are refused."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidNameError(f"an evaluation name must be a non-empty string, got {name!r}")
    if "\x00" in name:
        raise InvalidNameError(f"evaluation name {name!r} contains a NUL byte")
    return name


def file_stem(evaluation: str) -> str:
    """A file name for an evaluation that cannot leave its directory (``/`` is encoded)."""
    stem = urllib.parse.quote(check_evaluation_name(evaluation), safe="-_.[]=,+@")
    return "%2E" + stem[1:] if stem.startswith(".") else stem


def closest(name: str, candidates: Iterable[str], kind: str) -> str:
    """The sentence that ends an unknown-name error: what exists that looks like ``name``."""
    existing = sorted(set(candidates))
    if not existing:
        return f"there is no {kind} in this storage yet"
    near = difflib.get_close_matches(name, existing, n=3, cutoff=0.5)
    if near:
        return f"did you mean {', '.join(map(repr, near))}?"
    shown = ", ".join(map(repr, existing[:10]))
    more = f" and {len(existing) - 10} more" if len(existing) > 10 else ""
    return f"the {kind}s are {shown}{more}"
