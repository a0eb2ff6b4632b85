"""What every loader's dataset shares: fresh reads, renamed columns, a transform, a length."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import NotImplementedType
from typing import Any

import attrs

from doteval._private.datasets.bad_row import BadRow
from doteval._private.errors import DatasetError
from doteval._private.text import install_hint

Transform = Callable[[dict[str, Any]], Any]


def require(module: str, loader: str, extra: str) -> None:
    """Fail when the dataset is made, with the install command, if ``module`` is missing.

    ``find_spec`` only looks: the import itself (slow for ``datasets``) waits for the
    first read.
    """
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError, AttributeError):  # blocked: sys.modules[module] = None
        found = False
    if not found:
        raise ImportError(
            f"{loader}() needs the {module} library, which is not installed: {install_hint(extra)}"
        )


def imported(module: str, loader: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{loader}() needs the {module} library, which cannot be imported ({exc}): "
            f"{install_hint(extra)}"
        ) from exc


def _names(values: Iterable[str]) -> str:
    return ", ".join(map(repr, values))


def _check_columns(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(
        isinstance(key, str) and isinstance(name, str) for key, name in value.items()
    ):
        raise TypeError(
            f'columns= maps new names to names in the file, e.g. {{"question": "problem"}} '
            f"(a dict of str to str), got {value!r}"
        )
    return dict(value)


def _check_transform(value: Any) -> Transform | None:
    if value is not None and not callable(value):
        raise TypeError(
            f"transform= takes a function applied to each row dict, got "
            f"{type(value).__name__} {value!r}"
        )
    return value  # type: ignore[no-any-return]


@attrs.frozen(repr=False)
class Shaper:
    """Renames a row's columns and applies the transform; a failure becomes a BadRow."""

    label: str
    """The file or dataset, for messages."""
    unit: str
    """What a row's number counts: ``line`` or ``row index``."""
    columns: dict[str, str] | None
    transform: Transform | None

    def check_names(self, names: Iterable[str]) -> None:
        """Fail once, before any row, when the file lacks a column ``columns=`` renames."""
        if not self.columns:
            return
        names = list(names)
        missing = [name for name in self.columns.values() if name not in names]
        if missing:
            raise DatasetError(
                f"{self.label} has no column {_names(missing)}, which columns= renames "
                f"(it maps each new name to a name in the file: {self.columns!r}); its "
                f"columns are {_names(names)}"
            )

    def __call__(self, row: dict[str, Any], number: int) -> Any:
        columns = self.columns
        if columns:
            missing = [name for name in columns.values() if name not in row]
            if missing:
                return BadRow(
                    f"{self.label}, {self.unit} {number}: no key {_names(missing)}, which "
                    f"columns= renames ({columns!r}); the keys are {_names(row)}",
                    repr(row),
                )
            renamed = {new: row[old] for new, old in columns.items()}
            sources = set(columns.values())
            for key, value in row.items():
                if key not in sources:
                    renamed.setdefault(key, value)
            row = renamed
        if self.transform is None:
            return row
        try:
            return self.transform(row)
        except Exception as exc:
            return BadRow(
                f"{self.label}, {self.unit} {number}: transform= raised "
                f"{type(exc).__name__}: {exc}",
                repr(row),
            )


class CountedRows:
    """A row iterator that knows how many rows are left, for progress and ``samples=``."""

    __slots__ = ("_left", "_rows")

    def __init__(self, rows: Iterator[Any], length: int) -> None:
        self._rows = rows
        self._left = length

    def __iter__(self) -> CountedRows:
        return self

    def __next__(self) -> Any:
        row = next(self._rows)
        self._left -= 1
        return row

    def __length_hint__(self) -> int:
        return max(self._left, 0)

    def close(self) -> None:
        close = getattr(self._rows, "close", None)
        if close is not None:
            close()


@attrs.define(eq=False, repr=False)
class Dataset:
    """Rows of a file or hub dataset, read afresh (and lazily) on every iteration.

    Iterating twice reads the source twice, so a dataset object can back any number
    of runs; only the rows in flight are in memory.
    """

    columns: dict[str, str] | None = attrs.field(
        default=None, kw_only=True, converter=_check_columns
    )
    """New name -> name in the source; other columns keep their names."""
    transform: Transform | None = attrs.field(
        default=None, kw_only=True, converter=_check_transform
    )
    """Applied to each row dict after renaming; what it returns is the row."""

    loader = "dataset"
    unit = "row index"

    @property
    def label(self) -> str:
        """The source, as messages name it."""
        raise NotImplementedError

    def _start(self, shaper: Shaper | None) -> tuple[Iterator[Any], int | None]:
        """Check the source and begin reading it: the rows and, if known, how many."""
        raise NotImplementedError

    @property
    def length(self) -> int | None:
        """The number of rows when the format tells it cheaply, else ``None``."""
        return None

    def __length_hint__(self) -> int | NotImplementedType:
        length = self.length
        return NotImplemented if length is None else length

    def shaper(self) -> Shaper | None:
        if self.columns is None and self.transform is None:
            return None  # rows go out as read: nothing per row to pay for
        return Shaper(self.label, self.unit, self.columns, self.transform)

    def __iter__(self) -> Iterator[Any]:
        rows, length = self._start(self.shaper())
        return rows if length is None else CountedRows(rows, length)

    def __repr__(self) -> str:
        return f"<doteval.datasets.{self.loader} {self.label}>"
