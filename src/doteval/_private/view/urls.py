"""Where each page lives; names are percent-encoded whole, so ``/``, ``::``, ``[`` and
spaces in evaluation names survive a round trip through the URL."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

STATIC = "/static"


def _name(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _query(query: Mapping[str, object] | None) -> str:
    kept = {key: str(value) for key, value in (query or {}).items() if value is not None}
    return "?" + urllib.parse.urlencode(kept) if kept else ""


def home() -> str:
    return "/"


def experiment(name: str) -> str:
    return f"/experiments/{_name(name)}"


def evaluation(experiment: str, name: str, query: Mapping[str, object] | None = None) -> str:
    # The evaluation comes last: the route's path parameter takes the rest of the path.
    return f"/evaluations/{_name(experiment)}/{_name(name)}{_query(query)}"


def item(
    experiment: str, name: str, item_id: int, query: Mapping[str, object] | None = None
) -> str:
    return f"/items/{_name(experiment)}/{item_id}/{_name(name)}{_query(query)}"


def history(name: str) -> str:
    return f"/history/{_name(name)}"


def compare(
    a: str,
    b: str,
    evaluation: str,
    b_evaluation: str | None = None,
    query: Mapping[str, object] | None = None,
) -> str:
    return "/compare" + _query(
        {
            "a": a,
            "b": b,
            "evaluation": evaluation,
            "b_evaluation": b_evaluation if b_evaluation not in (None, evaluation) else None,
            **(query or {}),
        }
    )


def static(path: str) -> str:
    return f"{STATIC}/{path}"


GLOBALS = {
    "home_url": home,
    "experiment_url": experiment,
    "evaluation_url": evaluation,
    "item_url": item,
    "history_url": history,
    "compare_url": compare,
    "static_url": static,
}
