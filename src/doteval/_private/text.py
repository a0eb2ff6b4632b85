"""Short texts for messages and displays: one way to quote a value, one way to count."""

from __future__ import annotations

from typing import Any


def shorten(value: Any, limit: int = 200) -> str:
    """``repr(value)``, cut to ``limit`` characters so error messages stay readable."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``1 item``, ``1,000 items``: the count with thousands separators and the right form."""
    return f"{count:,} {noun if count == 1 else plural_form or noun + 's'}"
