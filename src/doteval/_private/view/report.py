"""``doteval report``: one self-contained HTML file for an experiment (a CI artifact, an
email attachment) with its CSS, JavaScript, charts and a capped item table inlined."""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from doteval import Record
from doteval._private.view import charts
from doteval._private.view.formatting import when
from doteval._private.view.pages import evaluation_view, row_columns
from doteval._private.view.source import Source
from doteval._private.view.templating import asset, environment
from doteval.storage import EvaluationInfo, Storage, Store

DEFAULT_ITEMS = 500
SCRIPTS = (
    "vendor/vega.min.js",
    "vendor/vega-lite.min.js",
    "vendor/vega-embed.min.js",
    "charts.js",
    "table.js",
    "report.js",
)


def _inline_script(text: str) -> str:
    """Script text that cannot end its ``<script>`` element early."""
    return text.replace("</script", "<\\/script")


def _items(source: Source, info: EvaluationInfo, first: list[Record]) -> Iterator[Record]:
    """The first items (already read), then every later error, streamed from the store."""
    yield from first
    start = first[-1].item_id + 1 if first else 0
    records = source.storage.records(info.experiment, info.name, start=start, errors_only=True)
    try:
        yield from records
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()


def _scores_json(record: Record) -> str:
    """The item's scores for the report's filter script (escaped as an attribute)."""
    return json.dumps({score.name: score.value for score in record.scores}, default=repr)


def _section(source: Source, info: EvaluationInfo, items: int) -> dict[str, Any]:
    view = evaluation_view(source, info)
    records = source.storage.records(info.experiment, info.name)
    try:
        first = list(itertools.islice(records, items))
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()
    scores = dict.fromkeys(view["scores"])
    for record in first:
        scores.update(dict.fromkeys(score.name for score in record.scores))
    runs = source.history(info.name)
    history_rows = [
        row
        for run in runs
        for row in charts.points(
            run.experiment,
            source.summary(run),
            source.estimates(run),
            when=when(run.started_at),
        )
    ]
    summary_rows = charts.points(info.experiment, view["summary"], view["estimates"])
    return {
        **view,
        "view": view,
        "records": _items(source, info, first),
        "first": len(first),
        "row_columns": row_columns(first),
        "score_columns": list(scores),
        "summary_chart": charts.summary(summary_rows, info.name) if summary_rows else None,
        "history_chart": (
            charts.history(history_rows, f"{info.name} across experiments")
            if len(runs) > 1 and history_rows
            else None
        ),
    }


def write_report(
    experiment: str,
    output: str | os.PathLike[str] = "report.html",
    *,
    storage: str | Storage | Store | Source | None = None,
    items: int = DEFAULT_ITEMS,
) -> Path:
    """Write the report of ``experiment`` to ``output``; the path written.

    Each evaluation shows its first ``items`` items and every error after them; rows
    are streamed into the file, so a run with many errors does not fill memory.
    """
    if items < 0:
        raise ValueError(f"items must be 0 or more, got {items}")
    source = storage if isinstance(storage, Source) else Source.open(storage)
    info = source.experiment(experiment)
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    context = {
        "experiment": info,
        "url": source.url,
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "items": items,
        "css": asset("viewer.css"),
        "scripts": [_inline_script(asset(name)) for name in SCRIPTS],
        "sections": (_section(source, evaluation, items) for evaluation in info.evaluations),
        "scores_json": _scores_json,
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            for chunk in environment().get_template("report.html").generate(**context):
                handle.write(chunk)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
