"""Reading stored results back: ``doteval.load``, ``doteval.experiments``, export."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any, overload

import attrs

from doteval._private.aggregate import Aggregator
from doteval._private.records import EvaluationResult, Record
from doteval._private.storage.base import (
    COMPLETED,
    PARTIAL,
    EvaluationInfo,
    ExperimentInfo,
    Storage,
    open_storage,
)
from doteval._private.storage.naming import UnknownNameError, check_experiment_name, closest
from doteval._private.storage.serialize import Encoder


@attrs.define(eq=False, repr=False)
class StoredRecords(Sequence[Record]):
    """A run's records, read from the store when iterated instead of kept in memory.

    ``contiguous`` means item ``i`` is at index ``i`` (true for a finished run).
    """

    storage: Storage
    experiment: str
    evaluation: str
    length: int
    stop: int | None = None
    contiguous: bool = True

    def __iter__(self) -> Iterator[Record]:
        return self._read(0, self.stop)

    def _read(self, start: int, stop: int | None) -> Iterator[Record]:
        records = self.storage.records(self.experiment, self.evaluation, start=start, stop=stop)
        try:
            yield from records
        finally:
            close = getattr(records, "close", None)
            if close is not None:
                close()

    def __len__(self) -> int:
        return self.length

    @overload
    def __getitem__(self, index: int) -> Record: ...

    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...

    def __getitem__(self, index: int | slice) -> Record | list[Record]:
        if isinstance(index, slice):
            return list(itertools.islice(self, *index.indices(self.length)))
        position = index + self.length if index < 0 else index
        if not 0 <= position < self.length:
            raise IndexError(f"record index {index} out of range for {self.length} records")
        if self.contiguous:
            found = next(self._read(position, position + 1), None)
            if found is not None and found.item_id == position:
                return found
        return next(itertools.islice(self, position, None))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple, StoredRecords)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"<{self.length} records of {self.evaluation} in experiment "
            f"{self.experiment!r} ({self.storage.url})>"
        )


def experiments(storage: str | Storage | None = None) -> list[ExperimentInfo]:
    """Every experiment in ``storage`` (default: the default store) with its evaluations,
    newest first."""
    return open_storage(storage).experiments()


def find_experiment(store: Storage, experiment: str) -> ExperimentInfo:
    check_experiment_name(experiment)
    found = store.experiments()
    for info in found:
        if info.name == experiment:
            return info
    raise UnknownNameError(
        f"no experiment {experiment!r} in {store.url}; "
        f"{closest(experiment, [info.name for info in found], 'experiment')}"
    )


def find_evaluation(info: ExperimentInfo, evaluation: str | None) -> EvaluationInfo:
    names = [found.name for found in info.evaluations]
    if evaluation is None:
        if len(info.evaluations) == 1:
            return info.evaluations[0]
        if not info.evaluations:
            raise UnknownNameError(f"experiment {info.name!r} has no evaluations yet")
        raise UnknownNameError(
            f"experiment {info.name!r} has {len(names)} evaluations; pass "
            f"evaluation= one of {', '.join(map(repr, names))}"
        )
    for found in info.evaluations:
        if found.name == evaluation:
            return found
    # Let a short name ("eval_math") find "pkg.module.eval_math" when it is unambiguous.
    suffixed = [name for name in names if name.endswith("." + evaluation)]
    if len(suffixed) == 1:
        return info.evaluations[names.index(suffixed[0])]
    raise UnknownNameError(
        f"experiment {info.name!r} has no evaluation {evaluation!r}; "
        f"{closest(evaluation, names, 'evaluation')}"
    )


def load(
    experiment: str,
    evaluation: str | None = None,
    storage: str | Storage | None = None,
) -> EvaluationResult:
    """The stored result of one evaluation of ``experiment``, as a run returns it.

    With ``evaluation=None`` the experiment must hold exactly one evaluation. Records
    are read from the store lazily, when ``result.records`` is iterated.
    """
    store = open_storage(storage)
    info = find_evaluation(find_experiment(store, experiment), evaluation)
    summary, counts = info.summary, info.counts
    finished = info.status in (COMPLETED, PARTIAL) and summary is not None and counts is not None
    if not finished:  # interrupted or killed: total up what the store holds
        aggregator = Aggregator()
        for record in store.records(info.experiment, info.name):
            aggregator.add(record)
        summary, counts = aggregator.summary, aggregator.counts
    assert summary is not None
    assert counts is not None
    started = info.started_at or 0.0
    return EvaluationResult(
        evaluation=info.name,
        summary=summary,
        counts=counts,
        records=StoredRecords(store, info.experiment, info.name, counts.total, contiguous=finished),
        wall_time=max(0.0, (info.ended_at or started) - started),
        started_at=started,
    )


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
    storage: str | Storage | None = None,
) -> int:
    """Write the effective records of ``experiment`` to ``output``; the number written.

    ``jsonl``: one JSON object per record, as stored. ``csv``: one row per record,
    with each score as a ``score:NAME`` column and the row as JSON.
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {format!r}")
    store = open_storage(storage)
    info = find_experiment(store, experiment)
    chosen = info.evaluations if evaluation is None else (find_evaluation(info, evaluation),)
    if format == "jsonl":
        return _export_jsonl(store, experiment, chosen, output)
    return _export_csv(store, experiment, chosen, output)


def _export_jsonl(
    store: Storage, experiment: str, chosen: Iterable[EvaluationInfo], output: IO[str]
) -> int:
    written = 0
    encoder = Encoder()
    for info in chosen:
        for record in store.records(experiment, info.name):
            output.write(encoder.document(record, evaluation=info.name) + "\n")
            written += 1
    return written


def _json_cell(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=repr)


def _export_csv(
    store: Storage, experiment: str, chosen: Iterable[EvaluationInfo], output: IO[str]
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
        for record in store.records(experiment, info.name):
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
                    f"{record.timestamp:.3f}",
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


def export_text(experiment: str, format: str = "jsonl", **kwargs: Any) -> str:
    """:func:`export` into a string (handy in notebooks and tests)."""
    buffer = io.StringIO()
    export(experiment, buffer, format, **kwargs)
    return buffer.getvalue()
