"""Binding a row to the evaluation's columns: sequences by position, mappings by key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from doteval._private.datasets.bad_row import BadRow
from doteval._private.errors import RowError
from doteval._private.text import shorten

_SCALARS = frozenset({str, int, float, bool})


def bind_row(row: Any, columns: tuple[str, ...]) -> dict[str, Any]:
    """Map a row onto ``columns``: sequences by position, mappings by key."""
    kind = type(row)  # the commonest rows first, without an abstract-class check
    if kind is tuple and len(row) == len(columns):
        return dict(zip(columns, row, strict=False))  # the lengths are equal
    if kind in _SCALARS and len(columns) == 1:
        return {columns[0]: row}
    if isinstance(row, Mapping):
        if isinstance(row, BadRow):  # a loader could not read this row: the item's error
            raise RowError(row.message)
        missing = [name for name in columns if name not in row]
        if missing:
            raise RowError(
                f"row {shorten(row)} has no key {', '.join(map(repr, missing))}; "
                f"the columns are {', '.join(columns)} and the row's keys are "
                f"{', '.join(map(repr, row))}"
            )
        return {name: row[name] for name in columns}
    if isinstance(row, (tuple, list)):
        if len(row) == len(columns):
            return dict(zip(columns, row, strict=False))
        if len(columns) == 1:  # a single column takes a whole sequence as its value
            return {columns[0]: row}
        raise RowError(
            f"row {shorten(row)} has {len(row)} values but the columns "
            f"{', '.join(columns)} need {len(columns)}; give each row one value "
            f"per column"
        )
    if len(columns) == 1:
        return {columns[0]: row}
    raise RowError(
        f"row {shorten(row)} is a {type(row).__name__}, which cannot fill the "
        f"{len(columns)} columns {', '.join(columns)}; use a tuple, list or dict per row"
    )


def stored_row(row: Any, columns: tuple[str, ...]) -> Any:
    """The row as its record keeps it: bound to the columns, or raw if it does not bind."""
    try:
        return bind_row(row, columns)
    except RowError:
        return row
