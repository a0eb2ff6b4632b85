"""The ``doteval`` command's group, and what its commands share: the store option,
the console and its tables, and how values and statuses read."""

from __future__ import annotations

import functools
import io
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from doteval._private.errors import DotevalError
from doteval._private.stats.estimate import Estimate
from doteval._private.stats.format import format_estimate
from doteval._private.storage.protocol import EvaluationInfo
from doteval._private.storage.registry import default_url, open_storage
from doteval._private.storage.status import COMPLETED, FAILED, INTERRUPTED, PARTIAL, RUNNING
from doteval._private.storage.urls import require_store
from doteval._private.text import number

F = TypeVar("F", bound=Callable[..., Any])

STATUS_STYLES = {
    COMPLETED: "green",
    PARTIAL: "yellow",
    RUNNING: "cyan",
    INTERRUPTED: "yellow",
    FAILED: "red",
}
"""Every status an evaluation can have in a store, with its colour."""


PLAIN_WIDTH = 1_000_000
"""The width of output that is not a terminal: never wrapped, never cut."""


def on_terminal() -> bool:
    return sys.stdout.isatty()


class _Unpadded(io.StringIO):
    """Standard output without the spaces rich pads a table's lines with (a ``StringIO``
    for its type only: every write goes through to ``sys.stdout``)."""

    def write(self, text: str) -> int:
        sys.stdout.write(re.sub(r" +\n", "\n", text))
        return len(text)

    def flush(self) -> None:
        sys.stdout.flush()


def console() -> Console:
    """Rich output at the terminal's width (``COLUMNS`` wins, as rich reads it); piped or
    captured, plain text: no colours, and lines as long as what they hold."""
    # markup=False: a name or URL with brackets in it is text, not rich markup.
    if on_terminal():
        return Console(highlight=False, markup=False)
    return Console(
        file=_Unpadded(),
        width=PLAIN_WIDTH,
        no_color=True,
        color_system=None,
        highlight=False,
        markup=False,
    )


def table(*headers: str, right: Sequence[str] = (), whole: Sequence[str] = ()) -> Table:
    """A table of the command line: on a terminal, cells wrap rather than lose characters,
    and the ``whole`` columns (names) keep their width while the others wrap; piped, bare
    columns as wide as their cells."""
    found = Table(box=box.SIMPLE_HEAD if on_terminal() else None, pad_edge=False)
    for header in headers:
        found.add_column(
            header,
            overflow="fold",
            no_wrap=header in whole,
            justify="right" if header in right else "left",
        )
    return found


def print_table(out: Console, shown: Table) -> None:
    """``shown`` at the console's width, or wider when its columns cannot fit in it: the
    ``whole`` columns are never wrapped, the others fold (no character is lost), and on
    a terminal too narrow for that the table grows and the terminal wraps its lines."""
    needed = Measurement.get(out, out.options.update_width(PLAIN_WIDTH), shown).minimum
    width = out.width
    if needed > width:
        out.width = needed
    try:
        out.print(shown)
    finally:
        out.width = width


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
            # No command creates a store: one named by mistake is an error, not empty.
            return command(open_storage(require_store(storage_url or default_url())), **kwargs)
        except DotevalError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def estimate_cells(found: Estimate | None) -> tuple[str, str, str, str]:
    """The ``±``, interval, ``n`` and method columns of one metric (dashes without)."""
    if found is None or found.ci is None or found.half_width is None:
        return "-", "-", "-" if found is None else number(found.n), "-"
    low, high = found.ci
    return (
        number(found.half_width),
        f"{number(low)}–{number(high)}",
        f"{number(found.n)}{' clusters' if found.method == 'clustered' else ''}",
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="doteval")
def main() -> None:
    """Inspect and manage the experiments doteval has stored."""
