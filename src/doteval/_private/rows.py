"""Reading a dataset lazily and binding each row to the evaluation's columns."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from typing import Any, TypeAlias

import attrs

from doteval._private.datasets.bad_row import BadRow

Dataset: TypeAlias = (
    "Iterable[Any] | AsyncIterable[Any] | Callable[[], Iterable[Any] | AsyncIterable[Any]]"
)


class RowError(ValueError):
    """A row that does not fit the evaluation's columns."""


class DatasetError(RuntimeError):
    """The dataset itself cannot be read; no item is at fault."""


def parse_columns(columns: str | Iterable[str]) -> tuple[str, ...]:
    names = (
        [part.strip() for part in columns.split(",")]
        if isinstance(columns, str)
        else [str(part).strip() for part in columns]
    )
    if not names or any(not name.isidentifier() for name in names):
        raise ValueError(
            f"columns must be comma-separated Python identifiers such as "
            f'"question,answer", got {columns!r}'
        )
    if len(set(names)) != len(names):
        raise ValueError(f"columns {columns!r} name the same column twice")
    return tuple(names)


def shorten(value: Any, limit: int = 200) -> str:
    """``repr(value)``, cut to ``limit`` characters so error messages stay readable."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def bind_row(row: Any, columns: tuple[str, ...]) -> dict[str, Any]:
    """Map a row onto ``columns``: sequences by position, mappings by key."""
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
            return dict(zip(columns, row, strict=True))
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


@attrs.define
class DatasetSource:
    """Hands out a fresh row iterator per run, and refuses to reuse a spent one."""

    dataset: Any
    owner: str
    _spent: bool = False

    def rows(self) -> AsyncIterator[Any] | Iterable[Any]:
        dataset = self.dataset
        if callable(dataset) and not isinstance(dataset, (Iterable, AsyncIterable)):
            dataset = dataset()
        if isinstance(dataset, AsyncIterable):
            iterator: Any = dataset.__aiter__()
        elif isinstance(dataset, Iterable):
            iterator = iter(dataset)
        else:
            raise TypeError(
                f"the dataset of {self.owner} is a {type(dataset).__name__}; pass an "
                f"iterable, an async iterable, or a zero-argument callable returning one"
            )
        if iterator is self.dataset:  # a one-shot iterator: a second run would see nothing
            if self._spent:
                raise DatasetError(
                    f"the dataset of {self.owner} is a one-shot iterator that an "
                    f"earlier run already consumed, so this run would evaluate "
                    f"nothing; pass a list, or a zero-argument callable that returns "
                    f"a fresh iterator (for a generator: `lambda: stream_dataset()` "
                    f"or `stream_dataset` itself)"
                )
            self._spent = True
        return iterator  # type: ignore[no-any-return]
