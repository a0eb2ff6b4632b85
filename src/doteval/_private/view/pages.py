"""What each page shows, gathered from the source (no HTML here): one function a page,
run in a worker thread because stores read synchronously."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from doteval import Record
from doteval._private.view import charts
from doteval._private.view.formatting import when
from doteval._private.view.source import (
    BadQuery,
    Filters,
    Source,
    score_names,
    wall_time,
)
from doteval.storage import RUNNING, EvaluationInfo, ExperimentInfo

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def _whole(query: Mapping[str, str], name: str, minimum: int = 0) -> int | None:
    text = (query.get(name) or "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise BadQuery(f"{name}={text!r} must be a whole number of at least {minimum}")
    return value


def _limit(query: Mapping[str, str]) -> int:
    limit = _whole(query, "limit", 1)
    if limit is not None and limit > MAX_PAGE_SIZE:
        raise BadQuery(f"limit={limit} is more than {MAX_PAGE_SIZE} items a page; ask for fewer")
    return PAGE_SIZE if limit is None else limit


def evaluation_view(source: Source, info: EvaluationInfo) -> dict[str, Any]:
    """What every page showing an evaluation's summary needs."""
    summary = source.summary(info)
    return {
        "info": info,
        "summary": summary,
        "estimates": source.estimates(info),
        "wall_time": wall_time(info),
        "scores": score_names(info, summary),
        "running": info.status == RUNNING,
    }


def experiments_page(source: Source, only: str | None = None) -> dict[str, Any]:
    found: list[ExperimentInfo] = (
        [source.experiment(only)] if only is not None else source.experiments()
    )
    return {
        "only": only,
        "experiments": [
            {"info": info, "evaluations": [evaluation_view(source, e) for e in info.evaluations]}
            for info in found
        ],
    }


def row_columns(items: Sequence[Record]) -> list[str]:
    """Column names of the rows on a page, in first-seen order."""
    names: dict[str, None] = {}
    for record in items:
        row = record.row
        if isinstance(row, dict):
            names.update(dict.fromkeys(map(str, row)))
        elif isinstance(row, (list, tuple)):
            names.update(dict.fromkeys(map(str, range(len(row)))))
        else:
            names["row"] = None
    return list(names)


def row_value(row: Any, column: str) -> Any:
    if isinstance(row, dict):
        return row.get(column, row.get(int(column)) if column.isdigit() else None)
    if isinstance(row, (list, tuple)) and column.isdigit():
        index = int(column)
        return row[index] if index < len(row) else None
    return row if column == "row" else None


def score_of(record: Record, name: str) -> Any:
    for score in record.scores:
        if score.name == name:
            return score.value
    return None


def _score_columns(scores: list[str], items: tuple[Record, ...]) -> list[str]:
    names = dict.fromkeys(scores)
    for record in items:
        names.update(dict.fromkeys(score.name for score in record.scores))
    return list(names)


def evaluation_page(
    source: Source, experiment: str, evaluation: str, query: Mapping[str, str]
) -> dict[str, Any]:
    info = source.evaluation(experiment, evaluation)
    filters = Filters.from_query(query)
    after, before = _whole(query, "after"), _whole(query, "before")
    if after is not None and before is not None:
        raise BadQuery("after= and before= cannot both be given: a page starts at one of them")
    limit = _limit(query)
    page = source.page(
        experiment, evaluation, after=after, before=before, limit=limit, filters=filters
    )
    view = evaluation_view(source, info)
    others = [other for other in source.history(info.name) if other.experiment != info.experiment]
    rows = charts.points(info.experiment, view["summary"], view["estimates"])
    return {
        **view,
        "view": view,
        "filters": filters,
        "page": page,
        "limit": limit,
        "paged": {"limit": limit} if limit != PAGE_SIZE else {},
        "row_columns": row_columns(page.items),
        "score_columns": _score_columns(view["scores"], page.items),
        "others": others,
        "chart": charts.summary(rows, f"{info.name} in {info.experiment}") if rows else None,
        "first_page": after is None and before is None,
    }


def item_page(
    source: Source, experiment: str, evaluation: str, item_id: int, query: Mapping[str, str]
) -> dict[str, Any]:
    info = source.evaluation(experiment, evaluation)
    filters = Filters.from_query(query)
    found = source.item(experiment, evaluation, item_id, filters)
    return {"info": info, "item": found, "record": found.record, "filters": filters}


def history_page(source: Source, evaluation: str) -> dict[str, Any]:
    runs = [evaluation_view(source, info) for info in source.history(evaluation)]
    rows = list(
        itertools.chain.from_iterable(
            charts.points(
                view["info"].experiment,
                view["summary"],
                view["estimates"],
                when=when(view["info"].started_at),
            )
            for view in runs
        )
    )
    scores: dict[str, None] = {}
    for view in runs:
        for score, metrics in (view["summary"] or {}).items():
            scores.update(dict.fromkeys(f"{score}.{metric}" for metric in metrics))
    return {
        "evaluation": evaluation,
        "runs": runs,
        "series": list(scores),
        "chart": charts.history(rows, evaluation) if rows else None,
    }


def compare_page(source: Source, query: Mapping[str, str]) -> dict[str, Any]:
    missing = [name for name in ("a", "b", "evaluation") if not (query.get(name) or "").strip()]
    if missing:
        raise BadQuery(
            f"compare needs {', '.join(f'{name}=' for name in missing)}: "
            f"/compare?a=EXPERIMENT&b=EXPERIMENT&evaluation=NAME (and b_evaluation=NAME "
            f"when B's evaluation has another name)"
        )
    evaluation = query["evaluation"]
    a = source.evaluation(query["a"], evaluation)
    b = source.evaluation(query["b"], query.get("b_evaluation") or evaluation)
    view_a, view_b = evaluation_view(source, a), evaluation_view(source, b)
    scores = list(dict.fromkeys([*view_a["scores"], *view_b["scores"]]))
    score = (query.get("score") or "").strip() or (scores[0] if scores else None)
    better = (query.get("better") or "").strip() or None
    if better not in (None, "a", "b"):
        raise BadQuery(f"better={better!r} must be 'a' (A did better) or 'b' (B did better)")
    after = _whole(query, "after")
    limit = _limit(query)
    page = None
    if score is not None:
        page = source.disagreements(a, b, score=score, after=after, limit=limit, better=better)
    metric_rows = list(
        dict.fromkeys(
            (score_name, metric)
            for view in (view_a, view_b)
            for score_name, metrics in (view["summary"] or {}).items()
            for metric in metrics
        )
    )
    return {
        "a": view_a,
        "b": view_b,
        "A": a,
        "B": b,
        "metric_rows": metric_rows,
        "scores": scores,
        "score": score,
        "better": better,
        "after": after,
        "page": page,
        "limit": limit,
        "comparison": source.comparison(a, b),
        "selection": {
            "score": score,
            "better": better,
            "limit": limit if limit != PAGE_SIZE else None,
        },
    }
