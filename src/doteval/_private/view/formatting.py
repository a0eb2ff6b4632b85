"""How values read from the store are written on a page (the templates' filters)."""

from __future__ import annotations

import json
import time
from typing import Any

from doteval import Difference, Estimate
from doteval._private.stats.format import difference_text, estimate_text
from doteval._private.text import number as text_number


def number(value: Any) -> str:
    """A value as every doteval display writes it; booleans as JSON writes them."""
    if isinstance(value, bool):
        return str(value).lower()
    return text_number(value, missing="—")


def estimate(value: Any, found: Estimate | None) -> str:
    """``0.712 ± 0.028 (95% CI 0.684–0.739, n=1,000)`` with an estimate, else the value."""
    if found is None or found.value is None:
        return number(value)
    return estimate_text(found)


def paired(found: Difference) -> str:
    """``+0.031 (95% CI 0.008–0.054, p=0.011 paired-t; 41 better, 10 worse, 949 tied)``."""
    return difference_text(found)


def when(timestamp: float | None) -> str:
    if not timestamp:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    minutes, rest = divmod(int(value), 60)
    if minutes < 120:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"


def cell(value: Any, limit: int = 120) -> str:
    """A value shortened to fit a table cell (the item page shows it whole)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pretty(value: Any) -> str:
    """A value in full, indented when it is structured."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2, default=repr)


def columns(row: Any) -> list[tuple[str, Any]]:
    """A row as (column, value) pairs: a mapping's keys, else one unnamed column."""
    if isinstance(row, dict):
        return [(str(key), value) for key, value in row.items()]
    if isinstance(row, (list, tuple)):
        return [(str(index), value) for index, value in enumerate(row)]
    return [("row", row)]


def commit(value: Any) -> str:
    return str(value)[:10] if value else "—"


FILTERS = {
    "number": number,
    "estimate": estimate,
    "paired": paired,
    "when": when,
    "seconds": seconds,
    "cell": cell,
    "pretty": pretty,
    "columns": columns,
    "commit": commit,
}
