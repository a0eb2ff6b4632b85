"""Reading a dataset lazily: a fresh row iterator per run, and the columns it fills."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import Any, TypeAlias

import attrs

from doteval._private.errors import DatasetError

Dataset: TypeAlias = (
    "Iterable[Any] | AsyncIterable[Any] | Callable[[], Iterable[Any] | AsyncIterable[Any]]"
)


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


@attrs.define(repr=False)
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
