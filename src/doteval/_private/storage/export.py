"""Exporting stored records as JSON lines or CSV, streamed from the store."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import IO, Any

from doteval._private.storage.policy import Store, find_evaluation
from doteval._private.storage.protocol import EvaluationInfo, Storage
from doteval._private.storage.reading import all_records
from doteval._private.storage.registry import open_storage
from doteval._private.storage.serialize import RecordEncoder
from doteval._private.text import moment

EXPORT_FORMATS = ("jsonl", "csv")
CSV_COLUMNS = (
    "evaluation",
    "item_id",
    "row",
    "prompt",
    "model_response",
    "error_type",
    "error_message",
    "attempts",
    "duration",
    "timestamp",
)


def export(
    experiment: str,
    output: IO[str],
    format: str = "jsonl",
    evaluation: str | None = None,
    storage: str | Storage | Store | None = None,
) -> int:
    """Write the effective records of ``experiment`` to ``output``; the number written.

    ``jsonl``: one JSON object per record, as stored, plus ``timestamp_iso`` (the
    ``timestamp`` float in ISO 8601 with the UTC offset). ``csv``: one row per record,
    with each score as a ``score:NAME`` column, the row as JSON and the timestamp in
    ISO 8601.
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {format!r}")
    store = open_storage(storage)
    info = store.experiment(experiment)
    chosen = info.evaluations if evaluation is None else (find_evaluation(info, evaluation),)
    if format == "jsonl":
        return _export_jsonl(store, experiment, chosen, output)
    return _export_csv(store, experiment, chosen, output)


def _export_jsonl(
    store: Store, experiment: str, chosen: Iterable[EvaluationInfo], output: IO[str]
) -> int:
    written = 0
    encoder = RecordEncoder()
    for info in chosen:
        for record in all_records(store, info):
            when = moment(record.timestamp, precise=True) if record.timestamp else None
            document = encoder.document(record, evaluation=info.name, timestamp_iso=when)
            output.write(document + "\n")
            written += 1
    return written


def _json_cell(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=repr)


def _export_csv(
    store: Store, experiment: str, chosen: Iterable[EvaluationInfo], output: IO[str]
) -> int:
    # Score columns come from the evaluations' summaries, so one pass over the records suffices.
    score_names: list[str] = []
    chosen = list(chosen)
    for info in chosen:
        for name in info.summary or {}:
            if name not in score_names:
                score_names.append(name)
    writer = csv.writer(output)
    writer.writerow([*CSV_COLUMNS, *(f"score:{name}" for name in score_names)])
    written = 0
    for info in chosen:
        for record in all_records(store, info):
            values = {score.name: score.value for score in record.scores}
            error = record.error
            writer.writerow(
                [
                    info.name,
                    record.item_id,
                    _json_cell(record.row),
                    record.prompt or "",
                    record.model_response or "",
                    error.type if error else "",
                    error.message if error else "",
                    record.attempts,
                    f"{record.duration:.6f}",
                    moment(record.timestamp, "", precise=True),
                    *(_cell(values.get(name)) for name in score_names),
                ]
            )
            written += 1
    return written


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (bool, int, float, str)):
        return str(value)
    return _json_cell(value)
