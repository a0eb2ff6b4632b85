"""Experiment names: fresh ones for anonymous runs, and checks that keep names inside a store."""

from __future__ import annotations

import hashlib
import os
import time
import urllib.parse
from collections.abc import Iterable

from doteval._private.errors import InvalidNameError

MAX_NAME_LENGTH = 200


def fresh_experiment_name() -> str:
    """A sortable name for a run without ``experiment=``: UTC time, then a short random id."""
    # os.urandom is what secrets.token_hex reads, without importing hmac and random
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + os.urandom(3).hex()


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
        problem = "contains a path separator, which could escape the storage directory"
    elif name in (".", "..") or name.startswith("."):
        problem = "starts with a dot, which could escape or hide in the storage directory"
    elif name != name.strip():
        problem = "starts or ends with white space"
    elif not _encodable(name):
        problem = "contains a character that UTF-8 cannot encode (a lone surrogate)"
    if problem is not None:
        raise InvalidNameError(
            f"experiment name {name!r} {problem}; use letters, digits, '-', '_' and '.' "
            f"(e.g. 'gpt4-baseline')"
        )
    return name


def check_evaluation_name(name: object) -> str:
    """Evaluation names are module paths or pytest node ids; only NULs and blanks are refused."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidNameError(f"an evaluation name must be a non-empty string, got {name!r}")
    if "\x00" in name:
        raise InvalidNameError(f"evaluation name {name!r} contains a NUL byte")
    if not _encodable(name):
        raise InvalidNameError(
            f"evaluation name {name!r} contains a character that UTF-8 cannot encode (a "
            f"lone surrogate); rename the function or its parameter id"
        )
    return name


def _encodable(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


MAX_STEM_BYTES = 160
"""File systems refuse names over 255 bytes; a stem this long leaves room for its suffixes
(``.meta.json``, a temporary file's pid)."""


def legacy_file_stem(evaluation: str) -> str:
    """The stem of any length that stores written before stems were bounded used."""
    stem = urllib.parse.quote(check_evaluation_name(evaluation), safe="-_.[]=,+@")
    return "%2E" + stem[1:] if stem.startswith(".") else stem


def file_stem(evaluation: str) -> str:
    """A file name for an evaluation that cannot leave its directory (``/`` is encoded)
    and that any file system takes: a long name is cut, and a hash of it keeps it apart
    from others cut the same way (the meta file holds the whole name)."""
    stem = legacy_file_stem(evaluation)
    if len(stem) <= MAX_STEM_BYTES:
        return stem
    digest = hashlib.blake2b(evaluation.encode("utf-8"), digest_size=8).hexdigest()
    cut = stem[: MAX_STEM_BYTES - len(digest) - 1]
    escape = cut.rfind("%", len(cut) - 2)
    if escape != -1:  # do not cut a %XX escape in two
        cut = cut[:escape]
    return f"{cut}~{digest}"


def closest(name: str, candidates: Iterable[str], kind: str) -> str:
    """The sentence that ends an unknown-name error: what exists that looks like ``name``."""
    existing = sorted(set(candidates))
    if not existing:
        return f"there is no {kind} in this storage yet"
    import difflib  # deferred: start-up time; only an unknown name needs it

    near = difflib.get_close_matches(name, existing, n=3, cutoff=0.5)
    if near:
        return f"did you mean {', '.join(map(repr, near))}?"
    shown = ", ".join(map(repr, existing[:10]))
    more = f" and {len(existing) - 10} more" if len(existing) > 10 else ""
    return f"the {kind}s are {shown}{more}"


def dotted(name: str) -> str:
    """A pytest node id as the module-qualified name it stands for
    (``tests/eval_x.py::eval_fake[a]`` -> ``tests.eval_x.eval_fake[a]``); other names as
    they are. Node ids are what earlier versions stored pytest's evaluations under."""
    path, separator, rest = name.partition("::")
    if not separator:
        return name
    module = path[:-3] if path.endswith(".py") else path
    return ".".join([*module.replace("\\", "/").strip("/").split("/"), *rest.split("::")])
