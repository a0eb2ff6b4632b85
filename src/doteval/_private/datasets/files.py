"""Datasets in local or fsspec files: JSON lines, CSV and Parquet, read a row at a time."""

from __future__ import annotations

import codecs
import csv as _csv
import json
from collections.abc import Iterator
from typing import IO, Any

import attrs

from doteval._private.datasets.bad_row import BadRow
from doteval._private.datasets.base import Dataset, Shaper, Transform, imported, require
from doteval._private.datasets.paths import Location, PathLike
from doteval._private.errors import DatasetError

PARQUET_BATCH_ROWS = 1024
"""Rows decoded from Parquet at a time: memory follows this, not the file's row groups."""

_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number"}


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return _JSON_KINDS.get(type(value), type(value).__name__)


def _invalid_json(label: str, number: int, text: str) -> BadRow:
    """The error of a line that does not parse, its column counted without the line end."""
    try:
        json.loads(text)
        error = "truncated"
    except json.JSONDecodeError as exc:
        error = f"{exc.msg} at column {exc.colno}"
    return BadRow(f"{label}, line {number}: invalid JSON: {error}", text)


@attrs.define(eq=False, repr=False)
class JsonlDataset(Dataset):
    """One JSON object per line; a line that is not one becomes that item's error."""

    location: Location
    encoding: str = "utf-8"

    loader = "jsonl"
    unit = "line"

    @property
    def label(self) -> str:
        return self.location.text

    def _start(self, shaper: Shaper | None) -> tuple[Iterator[Any], None]:
        self.location.check()
        return self._read(shaper), None

    def _read(self, shaper: Shaper | None) -> Iterator[Any]:
        label, encoding = self.label, self.encoding
        # raw_decode skips json.loads' two whitespace scans, a third of the parse of a
        # short line; anything it does not take plainly goes to json.loads.
        loads, raw_decode = json.loads, json.JSONDecoder().raw_decode
        strip_bom = codecs.lookup(encoding).name == "utf-8"
        with self.location.open_binary() as handle:
            for number, line in enumerate(handle, 1):
                if number == 1 and strip_bom:
                    line = line.removeprefix(codecs.BOM_UTF8)
                try:
                    text = line.decode(encoding)
                except UnicodeDecodeError as exc:
                    yield BadRow(
                        f"{label}, line {number}: not {encoding} text ({exc.reason} at "
                        f"byte {exc.start}); pass the file's encoding= to jsonl()",
                        line.decode(encoding, "replace"),
                    )
                    continue
                try:
                    row, end = raw_decode(text)
                    if end != len(text) and not text[end:].isspace():
                        raise ValueError("extra data")
                except ValueError:
                    try:
                        row = loads(text)  # leading spaces; or the error, said as loads says it
                    except ValueError:
                        if not text.isspace():
                            yield _invalid_json(label, number, text.rstrip("\r\n"))
                        continue  # a blank line is no row
                if type(row) is not dict:
                    yield BadRow(
                        f"{label}, line {number}: the line is {_json_kind(row)}, not a JSON "
                        f'object; each line must be one object, such as {{"question": '
                        f'"...", "answer": "..."}}',
                        text.rstrip("\r\n"),
                    )
                    continue
                yield row if shaper is None else shaper(row, number)


@attrs.define(eq=False, repr=False)
class CsvDataset(Dataset):
    """A header line, then one row per record; every value is a string."""

    location: Location
    encoding: str = "utf-8-sig"
    fieldnames: tuple[str, ...] | None = None
    options: dict[str, Any] = attrs.field(factory=dict)

    loader = "csv"
    unit = "line"

    @property
    def label(self) -> str:
        return self.location.text

    def _start(self, shaper: Shaper | None) -> tuple[Iterator[Any], None]:
        self.location.check()
        handle = self.location.open_text(self.encoding, newline="")
        try:
            reader = _csv.reader(handle, **self.options)
            header = self._header(reader)
            if shaper is not None and header is not None:
                shaper.check_names(header)
        except BaseException:
            handle.close()
            raise
        return self._read(handle, reader, header, shaper), None

    def _header(self, reader: Any) -> list[str] | None:
        if self.fieldnames is not None:
            return list(self.fieldnames)
        try:
            header: list[str] | None = next(reader, None)
        except (UnicodeDecodeError, _csv.Error) as exc:
            raise DatasetError(f"{self.label}: cannot read the header line: {exc}") from exc
        if header is None:
            return None
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise DatasetError(
                f"{self.label}: the header line names the column(s) {', '.join(repeated)} "
                f"more than once; rename them in the file, or pass fieldnames= to csv()"
            )
        return header

    def _read(
        self, handle: IO[str], reader: Any, header: list[str] | None, shaper: Shaper | None
    ) -> Iterator[Any]:
        with handle:
            if header is None:
                return  # an empty file: no rows
            label, width = self.label, len(header)
            start = reader.line_num + 1
            while True:
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except UnicodeDecodeError as exc:
                    raise DatasetError(
                        f"{label}, near line {start}: not {self.encoding} text ({exc}); "
                        f"pass the file's encoding= to csv()"
                    ) from exc
                except _csv.Error as exc:
                    raise DatasetError(f"{label}, line {start}: {exc}") from exc
                if not values:
                    pass  # a blank line is no row
                elif len(values) != width:
                    delimiter = getattr(reader.dialect, "delimiter", ",")
                    yield BadRow(
                        f"{label}, line {start}: {len(values)} fields, but the header has "
                        f"{width} ({', '.join(header)}); quote values that contain the "
                        f"delimiter {delimiter!r}",
                        delimiter.join(values),
                    )
                else:
                    row = dict(zip(header, values, strict=True))
                    yield row if shaper is None else shaper(row, start)
                start = reader.line_num + 1


@attrs.define(eq=False, repr=False)
class ParquetDataset(Dataset):
    """Record batches decoded a few rows at a time; the length is in the file's footer."""

    location: Location

    loader = "parquet"

    @property
    def label(self) -> str:
        return self.location.text

    def _open(self) -> tuple[Any, IO[bytes] | None]:
        """The ``ParquetFile``, and the Python file under it, if there is one to close."""
        parquet = imported("pyarrow.parquet", "parquet", "parquet")
        self.location.check()
        handle = self.location.open_binary() if self.location.is_url else None
        try:
            return parquet.ParquetFile(handle or self.location.text), handle
        except Exception as exc:
            if handle is not None:
                handle.close()
            raise DatasetError(f"{self.label} is not a readable Parquet file: {exc}") from exc

    @property
    def length(self) -> int | None:
        opened, handle = self._open()
        try:
            return int(opened.metadata.num_rows)
        finally:
            opened.close()
            if handle is not None:
                handle.close()

    def _start(self, shaper: Shaper | None) -> tuple[Iterator[Any], int]:
        opened, handle = self._open()
        try:
            if shaper is not None:
                shaper.check_names(opened.schema_arrow.names)
            length = int(opened.metadata.num_rows)
        except BaseException:
            opened.close()
            if handle is not None:
                handle.close()
            raise
        return self._read(opened, handle, shaper), length

    def _read(self, opened: Any, handle: IO[bytes] | None, shaper: Shaper | None) -> Iterator[Any]:
        try:
            index = 0
            for batch in opened.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                for row in batch.to_pylist():
                    yield row if shaper is None else shaper(row, index)
                    index += 1
        finally:
            opened.close()
            if handle is not None:
                handle.close()


def jsonl(
    path: PathLike,
    *,
    columns: dict[str, str] | None = None,
    transform: Transform | None = None,
    encoding: str = "utf-8",
) -> JsonlDataset:
    """A JSON-lines file (local path or fsspec URL), one object per line, read lazily.

    A line that is not a JSON object becomes that item's error record; blank lines
    are skipped.
    """
    codecs.lookup(encoding)  # an unknown encoding fails here, not at the first run
    return JsonlDataset(Location.of(path, "jsonl"), encoding, columns=columns, transform=transform)


def csv(
    path: PathLike,
    *,
    columns: dict[str, str] | None = None,
    transform: Transform | None = None,
    encoding: str = "utf-8-sig",
    fieldnames: list[str] | tuple[str, ...] | None = None,
    **csv_options: Any,
) -> CsvDataset:
    """A CSV file with a header line (or ``fieldnames=``), read lazily; values are strings.

    ``csv_options`` (``delimiter``, ``quotechar``, ``dialect``, ...) go to the
    standard library's ``csv.reader``. A record with the wrong number of fields
    becomes that item's error record.
    """
    codecs.lookup(encoding)
    try:
        _csv.reader([], **csv_options)  # a misspelt option fails here
    except TypeError as exc:
        raise TypeError(
            f"csv(): {exc}; the options are those of the standard library's csv.reader "
            f"(delimiter, quotechar, escapechar, doublequote, skipinitialspace, "
            f"lineterminator, quoting, strict, dialect)"
        ) from None
    return CsvDataset(
        Location.of(path, "csv"),
        encoding,
        None if fieldnames is None else tuple(fieldnames),
        dict(csv_options),
        columns=columns,
        transform=transform,
    )


def parquet(
    path: PathLike,
    *,
    columns: dict[str, str] | None = None,
    transform: Transform | None = None,
) -> ParquetDataset:
    """A Parquet file, decoded in small batches; it knows its length from its footer.

    Needs pyarrow, which the ``parquet`` extra installs (``pip install ".[parquet]"`` in a
    checkout of doteval).
    """
    require("pyarrow", "parquet", "parquet")
    return ParquetDataset(Location.of(path, "parquet"), columns=columns, transform=transform)
