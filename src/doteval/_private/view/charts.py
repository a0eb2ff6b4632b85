"""Vega-Lite specifications of the viewer's charts; vega-embed draws them in the page."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from doteval._private.view.source import Estimates

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
"""Only a name: vega-embed reads the version from it and never fetches it."""


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def points(
    label: str,
    summary: Mapping[str, Mapping[str, Any]] | None,
    estimates: Estimates | None,
    **extra: Any,
) -> list[dict[str, Any]]:
    """One data row per numeric metric of a summary, with its interval when known."""
    rows = []
    for score, metrics in (summary or {}).items():
        for metric, value in metrics.items():
            found = (estimates or {}).get(score, {}).get(metric)
            value = found.value if found is not None else value
            if not _numeric(value):
                continue
            row: dict[str, Any] = {"label": label, "series": f"{score}.{metric}", "value": value}
            if found is not None and found.ci is not None:
                row["low"], row["high"] = found.ci
                row["n"] = found.n
            rows.append({**row, **extra})
    return rows


def _y(title: str) -> dict[str, Any]:
    return {"field": "value", "type": "quantitative", "title": title, "scale": {"zero": False}}


def _error_bars(x: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not any("low" in row for row in rows):
        return []
    return [
        {
            "mark": {"type": "errorbar", "ticks": True},
            "encoding": {
                "x": x,
                "y": {"field": "low", "type": "quantitative", "title": None},
                "y2": {"field": "high"},
                "color": {"field": "series", "type": "nominal"},
            },
        }
    ]


def history(rows: Iterable[dict[str, Any]], title: str) -> dict[str, Any]:
    """Each metric over the experiments that ran the evaluation, oldest first."""
    data = list(rows)
    x = {
        "field": "label",
        "type": "ordinal",
        "sort": None,
        "title": "experiment",
        "axis": {"labelAngle": -30, "labelLimit": 160},
    }
    tooltip = [
        {"field": "label", "title": "experiment"},
        {"field": "series", "title": "metric"},
        {"field": "value", "format": ".3f"},
        {"field": "when", "title": "started"},
    ]
    return {
        "$schema": SCHEMA,
        "title": title,
        "width": "container",
        "height": 260,
        "data": {"values": data},
        "layer": [
            {
                "mark": {"type": "line", "point": {"size": 60}},
                "encoding": {
                    "x": x,
                    "y": _y("value"),
                    "color": {"field": "series", "type": "nominal", "title": "metric"},
                    "tooltip": tooltip,
                },
            },
            *_error_bars(x, data),
        ],
    }


def summary(rows: Iterable[dict[str, Any]], title: str) -> dict[str, Any]:
    """Each metric of one evaluation as a horizontal bar, with its interval when known."""
    data = list(rows)
    y = {"field": "series", "type": "nominal", "title": None, "sort": None}
    layers: list[dict[str, Any]] = [
        {
            "mark": {"type": "bar", "height": {"band": 0.6}},
            "encoding": {
                "y": y,
                "x": {"field": "value", "type": "quantitative", "title": "value"},
                "color": {"field": "series", "type": "nominal", "legend": None},
                "tooltip": [{"field": "series"}, {"field": "value", "format": ".3f"}],
            },
        }
    ]
    if any("low" in row for row in data):
        layers.append(
            {
                "mark": {"type": "errorbar", "ticks": True},
                "encoding": {
                    "y": y,
                    "x": {"field": "low", "type": "quantitative", "title": None},
                    "x2": {"field": "high"},
                },
            }
        )
    return {
        "$schema": SCHEMA,
        "title": title,
        "width": "container",
        "height": {"step": 28},
        "data": {"values": data},
        "layer": layers,
    }
