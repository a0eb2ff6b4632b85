"""The session's summary: a row per evaluation, shown as a table and written as JSON.

Rows are plain JSON-ready dicts because under pytest-xdist they travel from the
workers to the controller attached to pytest's test reports.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from doteval._private.results.records import EvaluationResult, Record
from doteval._private.results.tracebacks import STYLES, ErrorGroup, TracebackStyle, group_errors
from doteval._private.storage.reading import StoredRecords
from doteval._private.text import number

if TYPE_CHECKING:
    from rich.console import Console

Row = dict[str, Any]


def _plain(value: Any) -> Any:
    """A metric value as JSON can carry it; anything exotic becomes its ``repr``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    return repr(value)


def _plain_estimate(data: dict[str, Any]) -> dict[str, Any]:
    """An estimate as the JSON report keeps it: value, stderr, ci, level, n, method."""
    return {key: data[key] for key in ("value", "stderr", "ci", "level", "n", "method")}


def error_records(result: EvaluationResult) -> Iterable[Record]:
    """The run's failed records: asked of the store alone when the run's records are there."""
    if not result.counts.errors:
        return ()
    records = result.records
    if isinstance(records, StoredRecords):
        return records.storage.records(
            records.experiment, records.evaluation, stop=records.stop, errors_only=True
        )
    return result.errors


def result_row(
    nodeid: str, result: EvaluationResult, experiment: str | None, storage: str | None
) -> Row:
    counts = result.counts
    return {
        "nodeid": nodeid,
        "evaluation": result.evaluation,
        "items": counts.total // max(result.epochs, 1),  # items, not item-epochs
        "epochs": result.epochs,
        "errors": counts.errors,
        "retried": counts.retried,
        "metrics": {
            score: {metric: _plain(value) for metric, value in metrics.items()}
            for score, metrics in result.summary.items()
        },
        "estimates": {
            score: {
                metric: None if found is None else _plain_estimate(found.to_json())
                for metric, found in per_metric.items()
            }
            for score, per_metric in result.estimates.items()
        },
        "wall_time": result.wall_time,
        "experiment": experiment,
        "storage": storage,
        "failures": [],
        "error_groups": [attrs.asdict(group) for group in group_errors(error_records(result))],
    }


def crash_row(nodeid: str, error: str, experiment: str | None, storage: str | None) -> Row:
    """The row of an evaluation that could not complete."""
    return {
        "nodeid": nodeid,
        "evaluation": nodeid,
        "items": None,
        "errors": None,
        "retried": None,
        "metrics": {},
        "estimates": {},
        "wall_time": None,
        "experiment": experiment,
        "storage": storage,
        "failures": [error],
        "error_groups": [],
    }


def _with_interval(value: Any, row: Row, score: str, metric: str) -> Any:
    """``0.712 ± 0.028`` where the row has the metric's interval, else the value."""
    found = (row.get("estimates") or {}).get(score, {}).get(metric)
    if not isinstance(value, float) or not found or not found.get("ci"):
        return value
    low, high = found["ci"]
    return f"{_cell(value)} ± {_cell(0.5 * (high - low))}"


def _metric_names(rows: Sequence[Row]) -> list[str]:
    names: dict[str, None] = {}
    for row in rows:
        for score, metrics in row["metrics"].items():
            for metric in metrics:
                names[f"{score}.{metric}"] = None
    return list(names)


def _cell(value: Any) -> str:
    return number(value, missing="—")


def _uniform(rows: Sequence[Row], key: str) -> bool:
    return len({row[key] for row in rows}) <= 1


def _shared(rows: Sequence[Row], key: str) -> Any:
    return rows[0][key] if rows and _uniform(rows, key) else None


def render_table(rows: Sequence[Row], width: int, color: bool) -> str:
    """The summary table as text, for pytest's terminal reporter to write."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    metrics = _metric_names(rows)
    per_row = {key: not _uniform(rows, key) for key in ("experiment", "storage")}
    experiment, storage = _shared(rows, "experiment"), _shared(rows, "storage")
    caption = []
    if experiment is not None:
        caption.append(f"experiment {experiment}")
    if storage is not None:
        caption.append(f"stored in {storage}")
    table = Table(
        caption=" · ".join(caption) or None,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    longest = max((len(row["evaluation"]) for row in rows), default=10)
    table.add_column("evaluation", overflow="fold", min_width=min(longest, 48))
    table.add_column("outcome")
    for name in ("items", "errors"):
        table.add_column(name, justify="right")
    for name in metrics:  # "score.metric" on two lines: headers are the widest cells
        table.add_column(name.replace(".", "\n", 1), justify="right", overflow="fold")
    table.add_column("time", justify="right")
    if per_row["experiment"]:
        table.add_column("experiment")
    if per_row["storage"]:
        table.add_column("stored in", overflow="fold")
    for row in rows:
        values = {
            f"{score}.{metric}": _with_interval(value, row, score, metric)
            for score, per_metric in row["metrics"].items()
            for metric, value in per_metric.items()
        }
        wall = row["wall_time"]
        outcome = row.get("outcome", "")
        texts = [
            row["evaluation"],
            _cell(row["items"]),
            _cell(row["errors"]),
            *(_cell(values.get(name)) for name in metrics),
            "—" if wall is None else f"{wall:.2f} s",
        ]
        if per_row["experiment"]:
            texts.append(_cell(row["experiment"]))
        if per_row["storage"]:
            texts.append(_cell(row["storage"]))
        # Text, not str: a cell such as a node id's "[param]" is not rich markup.
        cells = [Text(text) for text in texts]
        cells.insert(1, Text(outcome, style="green" if outcome == "passed" else "red"))
        table.add_row(*cells)
    buffer = io.StringIO()
    console = _console(buffer, width, color)
    console.print(table)
    return buffer.getvalue()


def _console(buffer: io.StringIO, width: int, color: bool) -> Console:
    from rich.console import Console

    return Console(
        file=buffer,
        width=width,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
    )


def render_errors(row: Row, style: TracebackStyle, width: int, color: bool) -> str:
    """One traceback per error type of the row's evaluation (trimmed unless ``long``),
    each with how many items had it and one example, for the terminal reporter."""
    from rich.text import Text

    buffer = io.StringIO()
    console = _console(buffer, width, color)
    # Item-epochs are counted, not items, when items ran several times.
    total = row["items"] if row.get("epochs", 1) == 1 else None
    for index, data in enumerate(row.get("error_groups") or ()):
        if index:
            console.print()
        for kind, text in ErrorGroup(**data).lines(style, total):
            # soft_wrap: long source lines are left for the terminal to wrap, never cut.
            console.print(Text(text, style=STYLES[kind]), soft_wrap=True)
    return buffer.getvalue()


def write_report(path: Path, rows: Sequence[Row], exit_status: int) -> None:
    """The JSON report for CI: the same rows as the table, plus the session's outcome."""
    document: Mapping[str, Any] = {
        "experiment": _shared(rows, "experiment"),
        "storage": _shared(rows, "storage"),
        "exit_status": exit_status,
        "evaluations": list(rows),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
