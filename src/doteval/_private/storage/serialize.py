"""Records to JSON and back.

A record is stored as a compact JSON list (fields in :data:`FIELDS` order), the
fastest form to write; JSON-lines files and exports use the readable object form
(:meth:`RecordEncoder.document`).

Records made of JSON's own types are written by orjson, ten times faster than the
standard library's encoder, so the store thread holds the GIL briefly; any other
record takes the standard encoder (see :mod:`.plain_json`), so every value is stored
as it always was.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson

from doteval._private.results.records import ErrorInfo, Record
from doteval._private.scoring.metric import resolve_metric
from doteval._private.scoring.score import Score
from doteval._private.storage.plain_json import SCALARS, is_plain
from doteval._private.text import safe_repr

FIELDS = (
    "item_id",
    "row",
    "scores",
    "prompt",
    "model_response",
    "error",
    "attempts",
    "duration",
    "timestamp",
    "epoch",
)
"""A record's fields in its compact form (records stored before epochs have no ``epoch``:
they are epoch 0)."""
_SCORE_FIELDS = ("name", "value", "metrics", "metadata")
_ERROR_FIELDS = ("type", "message", "traceback")


def _plain_record(record: Record) -> bool:
    """Whether the parts of ``record`` its evaluation chose (the rest doteval makes of
    ints, floats of the clock and strings) are plain (see :func:`.is_plain`)."""
    # Scalars and empty metadata are judged inline: a call per value was most of the cost.
    for value in (record.row, record.prompt, record.model_response):
        if type(value) not in SCALARS and not is_plain(value):
            return False
    for score in record.scores:
        value = score.value
        if type(value) not in SCALARS and not is_plain(value):
            return False
        metadata = score.metadata
        if (type(metadata) is not dict or metadata) and not is_plain(metadata):
            return False
    return True


def to_compact(record: Record) -> list[Any]:
    error = record.error
    return [
        record.item_id,
        record.row,
        [
            [score.name, score.value, [chosen.name for chosen in score.metrics], score.metadata]
            for score in record.scores
        ],
        record.prompt,
        record.model_response,
        None if error is None else [error.type, error.message, error.traceback],
        record.attempts,
        record.duration,
        record.timestamp,
        record.epoch,
    ]


def from_compact(fields: list[Any]) -> Record:
    item_id, row, scores, prompt, response, error, attempts, duration, timestamp = fields[:9]
    return Record(
        item_id,
        row,
        tuple(
            Score(name, value, tuple(resolve_metric(chosen) for chosen in metrics), metadata or {})
            for name, value, metrics, metadata in scores
        ),
        prompt,
        response,
        None if error is None else ErrorInfo(*error),
        attempts,
        duration,
        timestamp,
        fields[9] if len(fields) > 9 else 0,
    )


def _as_document(fields: list[Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    # The extra fields (a JSON-lines file's row_hash, ok, epoch) come right after the
    # item id, where an index reads them without parsing the whole line.
    document = {"item_id": fields[0], **extra}
    document.update(zip(FIELDS[1:], fields[1:], strict=True))
    document["scores"] = [dict(zip(_SCORE_FIELDS, score, strict=True)) for score in fields[2]]
    if fields[5] is not None:
        document["error"] = dict(zip(_ERROR_FIELDS, fields[5], strict=True))
    return document


def record_from_document(document: Mapping[str, Any]) -> Record:
    """A record from its readable JSON object form (:meth:`RecordEncoder.document`)."""
    scores: list[Any] = [
        [score.get("name"), score.get("value"), score.get("metrics") or (), score.get("metadata")]
        for score in document.get("scores") or ()
    ]
    error = document.get("error")
    return from_compact(
        [
            document["item_id"],
            document.get("row"),
            scores,
            document.get("prompt"),
            document.get("model_response"),
            None if error is None else [error.get(name, "") for name in _ERROR_FIELDS],
            document.get("attempts") or 0,
            document.get("duration") or 0.0,
            document.get("timestamp") or 0.0,
            document.get("epoch") or 0,
        ]
    )


class RecordEncoder:
    """JSON for one writer: a value JSON cannot hold is stored as its ``repr``, and the
    first such value is noted in ``replaced`` (the run warns once, never fails)."""

    def __init__(self) -> None:
        self.replaced: str | None = None
        self._encoder = json.JSONEncoder(separators=(",", ":"), default=self._fallback)
        # The C encoder called directly skips JSONEncoder.encode's per-call set-up, a third
        # of the cost of a small record; circular values fail fast and take the slow path.
        make = getattr(json.encoder, "c_make_encoder", None)
        self._fast = (
            None
            if make is None
            else make(
                None,
                self._fallback,
                json.encoder.encode_basestring_ascii,
                None,
                ":",
                ",",
                False,
                False,
                True,
            )
        )

    def _fallback(self, value: Any) -> str:
        text = safe_repr(value)
        if self.replaced is None:
            self.replaced = f"{type(value).__name__} {text[:80]}"
        return text

    def compact(self, record: Record) -> str:
        """The record as a JSON list in :data:`FIELDS` order (see :func:`decode_record`)."""
        fields = to_compact(record)
        if _plain_record(record):
            try:
                return orjson.dumps(fields).decode()
            except orjson.JSONEncodeError:  # a big integer, a non-string key, a surrogate
                pass
        try:
            if self._fast is not None:
                return "".join(self._fast(fields, 0))
            return self._encoder.encode(fields)
        except (TypeError, ValueError, RecursionError) as exc:  # non-string keys, cycles
            self._sanitize(fields, exc)
            return self._encoder.encode(fields)

    def document(self, record: Record, **extra: Any) -> str:
        """The record as a readable JSON object, with ``extra`` fields after the item id."""
        fields = to_compact(record)
        if _plain_record(record) and is_plain(extra):
            try:
                return orjson.dumps(_as_document(fields, extra)).decode()
            except orjson.JSONEncodeError:  # a big integer, a non-string key, a surrogate
                pass
        try:
            return self._encoder.encode(_as_document(fields, extra))
        except (TypeError, ValueError, RecursionError) as exc:  # non-string keys, cycles
            self._sanitize(fields, exc)
            return self._encoder.encode(_as_document(fields, extra))

    def _sanitize(self, fields: list[Any], error: BaseException) -> None:
        if self.replaced is None:
            self.replaced = str(error)
        fields[1], fields[3], fields[4] = map(self._safe, (fields[1], fields[3], fields[4]))
        for score in fields[2]:
            score[1] = self._safe(score[1])
            if self._safe(score[3]) is not score[3]:
                score[3] = {"repr": safe_repr(score[3])}

    def _safe(self, value: Any) -> Any:
        try:
            self._encoder.encode(value)
        except (TypeError, ValueError, RecursionError):
            return safe_repr(value)
        return value


def decode_record(text: str | bytes) -> Record:
    """A record from its compact JSON form (:meth:`RecordEncoder.compact`)."""
    return from_compact(json.loads(text))
