"""The ``doteval`` command's group, and what its commands share: the store option,
the console, and how values and statuses read."""

from __future__ import annotations

import functools
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.text import Text

from doteval._private.errors import DotevalError
from doteval._private.stats.estimate import Estimate
from doteval._private.stats.format import format_estimate
from doteval._private.storage.protocol import EvaluationInfo
from doteval._private.storage.registry import default_url, open_storage
from doteval._private.storage.status import COMPLETED, FAILED, INTERRUPTED, PARTIAL, RUNNING
from doteval._private.text import number

F = TypeVar("F", bound=Callable[..., Any])

STATUS_STYLES = {COMPLETED: "green", RUNNING: "cyan", INTERRUPTED: "yellow", FAILED: "red"}


def console() -> Console:
    # Captured or piped output still gets a readable width.
    return Console(width=None if sys.stdout.isatty() else 140, highlight=False)


def storage_option(command: F) -> F:
    """``--storage URL`` on every command; errors of the store become clean messages."""

    @click.option(
        "--storage",
        "storage_url",
        metavar="URL",
        default=None,
        help="sqlite://PATH, jsonl://DIR or memory:// "
        "(default: $DOTEVAL_STORAGE, else sqlite://.doteval/doteval.db)",
    )
    @functools.wraps(command)
    def wrapper(storage_url: str | None, **kwargs: Any) -> Any:
        try:
            return command(open_storage(storage_url or default_url()), **kwargs)
        except DotevalError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def when(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def estimate_cells(found: Estimate | None) -> tuple[str, str, str, str]:
    """The ``±``, interval, ``n`` and method columns of one metric (dashes without)."""
    if found is None or found.ci is None or found.half_width is None:
        return "-", "-", "-" if found is None else f"{found.n:,}", "-"
    low, high = found.ci
    return (
        number(found.half_width),
        f"{number(low)}–{number(high)}",
        f"{found.n:,}{' clusters' if found.method == 'clustered' else ''}",
        found.method,
    )


def main_metric(info: EvaluationInfo) -> str:
    """The first score's first metric, with its interval when the store keeps it."""
    for score, metrics in (info.summary or {}).items():
        for metric, value in metrics.items():
            found = (info.estimates or {}).get(score, {}).get(metric)
            if found is not None and found.ci is not None:
                return format_estimate(f"{score}.{metric}", found)
            return f"{score}.{metric} = {number(value)}"
    return "-"


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def shards_line(info: EvaluationInfo) -> str:
    """How an evaluation's shards stand, e.g. ``shards of 4: 2 completed, 1 running, 1 not
    run`` (empty unless it ran in shards; a completed one has nothing left to run)."""
    count = info.shard_count
    if count is None:
        return ""
    tally = Counter(found.status for found in info.shards if found.shard.count == count)
    parts = [f"{n} {status}" for status, n in sorted(tally.items())]
    if info.shards_not_run and info.status not in (COMPLETED, PARTIAL):
        parts.append(f"{len(info.shards_not_run)} not run")
    return f"shards of {count}: {', '.join(parts)}"


@click.group()
@click.version_option(package_name="doteval")
def main() -> None:
    """Inspect and manage the experiments doteval has stored."""
