"""Short texts for messages and displays: one way to quote a value, one way to count."""

from __future__ import annotations

import datetime
import math
from typing import Any


def safe_repr(value: Any) -> str:
    """``repr(value)``, or a description of ``value`` when its ``repr`` raises or recurses
    too deeply: a message about a bad value must not fail on the value."""
    try:
        return repr(value)
    except RecursionError:
        return f"<{type(value).__name__} nested too deeply to show>"
    except Exception as exc:
        return f"<{type(value).__name__} whose repr() raised {type(exc).__name__}>"


def safe_str(value: Any) -> str:
    """``str(value)``, or a description of ``value`` when its ``str`` raises."""
    try:
        return str(value)
    except Exception as exc:
        return f"<{type(value).__name__} whose str() raised {type(exc).__name__}>"


def shorten(value: Any, limit: int = 200) -> str:
    """``repr(value)``, cut to ``limit`` characters so error messages stay readable."""
    text = safe_repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``1 item``, ``1,000 items``: the count with thousands separators and the right form."""
    return f"{count:,} {noun if count == 1 else plural_form or noun + 's'}"


def number(value: Any, missing: str = "-") -> str:
    """One format for a number wherever doteval shows one (tables, lines, pages).

    A value in [-1, 1] gets three decimals (shares and scores), a count thousands
    separators, another float four significant digits; the Python values keep their
    full precision, only the text is rounded.
    """
    if value is None:
        return missing
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value) or abs(value) <= 1.0:
        return f"{value:.3f}"
    return f"{value:,.{max(0, 3 - math.floor(math.log10(abs(value))))}f}"


def moment(timestamp: float | None, missing: str = "-", *, precise: bool = False) -> str:
    """A Unix time in ISO 8601 with the local UTC offset, one form wherever doteval shows
    or exports one: ``2025-03-01 14:02:07+01:00``; ``precise``: ``2025-03-01T14:02:07.123+01:00``
    (the form exports use). ``missing`` for none (a time of 0 is none: never stored)."""
    if not timestamp:
        return missing
    local = datetime.datetime.fromtimestamp(timestamp).astimezone()
    if precise:
        return local.isoformat(timespec="milliseconds")
    return local.isoformat(sep=" ", timespec="seconds")


REPOSITORY = "https://github.com/OWNER/doteval"
"""Where doteval's source is: a placeholder until the project has a public repository
(the ``doteval`` project on PyPI is someone else's empty placeholder, so doteval cannot
be installed from the index by its name yet)."""


def install_hint(extra: str) -> str:
    """How to install an extra, in the two ways that work: from a checkout of doteval, or
    from its git repository."""
    return (
        f'pip install ".[{extra}]" in a checkout of doteval, or '
        f'pip install "doteval[{extra}] @ git+{REPOSITORY}" (OWNER/doteval standing for '
        f"the repository you have doteval from)"
    )
