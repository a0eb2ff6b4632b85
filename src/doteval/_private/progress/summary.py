"""What a run tells its user when it ends: the summary, or how to resume it.

Written whenever progress is on, however short the run and whatever the output (a
terminal, a log, a notebook), because these are the moments a user needs it: the
numbers and where they are stored, why a run stopped, what Ctrl-C kept.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio

from doteval._private.errors import StorageError
from doteval._private.progress.snapshot import elapsed, resumed_text
from doteval._private.results.records import EvaluationResult
from doteval._private.run.plan import RunEnd
from doteval._private.stats.format import estimate_text
from doteval._private.storage.registry import default_url
from doteval._private.storage.status import FAILED, INTERRUPTED
from doteval._private.storage.urls import local_path
from doteval._private.text import number, plural


def _show_command(end: RunEnd) -> str | None:
    """``doteval show EXPERIMENT`` (with ``--storage`` unless it is the default store)."""
    if end.storage.startswith("memory://"):
        return None  # only this process sees it: doteval.load() here
    storage = "" if _same_store(end.storage, default_url()) else f" --storage {end.storage}"
    return f"doteval show {end.experiment}{storage}"


def _same_store(url: str, other: str) -> bool:
    scheme, other_scheme = url.partition("://")[0], other.partition("://")[0]
    if scheme != other_scheme or scheme not in ("sqlite", "jsonl"):
        return url == other
    try:
        return local_path(url) == local_path(other)
    except StorageError:
        return False


def _where(end: RunEnd) -> str:
    command = _show_command(end)
    if command is None:
        return f"  experiment {end.experiment} in {end.storage}: doteval.load() in this process"
    return f"  experiment {end.experiment}: {command}"


def _items(result: EvaluationResult) -> str:
    epochs = max(result.epochs, 1)
    text = plural(result.counts.total // epochs, "item")
    return text + (f" × {epochs} epochs" if epochs > 1 else "")


def _metric_lines(result: EvaluationResult) -> list[str]:
    lines = []
    for score, metrics in result.summary.items():
        for metric, value in metrics.items():
            found = result.estimates.get(score, {}).get(metric)
            shown = estimate_text(found) if found is not None else number(value)
            lines.append(f"  {score}.{metric} {shown}")
    return lines


def _interrupted(end: RunEnd, error: BaseException | None) -> bool:
    if end.status == INTERRUPTED:
        return True
    return isinstance(error, (KeyboardInterrupt, anyio.get_cancelled_exc_class()))


def end_lines(
    label: str,
    end: RunEnd,
    total: int | None,
    retries: int,
    how_to_resume: Callable[[str], str],
    summarise: bool,
    resumed: int = 0,
) -> list[str]:
    """The lines a run ends with (``summarise=False``: only an interruption's or an
    early stop's, where another report, pytest's table, gives the numbers)."""
    resume = how_to_resume(end.experiment)
    if end.result is None:
        if end.status is None or not _interrupted(end, end.error):
            return []  # the error says what happened, and the store is as it was
        out_of = "" if total is None else f"/{total:,}"
        return [f"interrupted: {label} {end.stored:,}{out_of} items stored; resume with {resume}"]
    result = end.result
    if result.stopped is not None:
        return [
            f"{label}: stopped: {result.stopped}.",
            f"  Fix the cause, then resume with {resume}",
            *([_where(end)] if summarise else []),
        ]
    if not summarise:
        return []
    counts = result.counts
    if result.status == FAILED and counts.total and counts.errors == counts.total:
        outcome = f"failed: all {_items(result)} errored"
    else:
        outcome = f"{result.status} {_items(result)}"
    again = f"; {resumed_text(resumed, total)}" if resumed else ""
    return [
        f"{label}: {outcome} in {elapsed(result.wall_time)}, "
        f"{plural(counts.errors, 'error')}, {plural(retries, 'retry', 'retries')}{again}",
        *_metric_lines(result),
        _where(end),
    ]
