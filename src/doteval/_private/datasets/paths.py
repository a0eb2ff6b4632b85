"""Where a dataset file is: a local path, or a URL that fsspec opens."""

from __future__ import annotations

import io
import os
from typing import IO, Any

import attrs

PathLike = str | os.PathLike[str]
"""A local file (``str`` or ``pathlib.Path``) or a URL such as ``s3://bucket/data.jsonl``."""


def is_url(text: str) -> bool:
    """``s3://...``, ``memory://...``, ``file://...``; a Windows drive (``C:\\``) is not."""
    scheme, found, _ = text.partition("://")
    return bool(found) and len(scheme) > 1 and scheme.replace("+", "").isalnum()


def _filesystem(url: str) -> tuple[Any, str]:
    try:
        import fsspec
    except ImportError:
        scheme = url.partition("://")[0]
        raise ImportError(
            f"reading the dataset {url} needs fsspec, which opens {scheme}:// URLs: "
            f"`pip install fsspec` (plus the package for {scheme}://, e.g. s3fs for "
            f"s3://), or download the file and pass its local path"
        ) from None
    try:
        return fsspec.core.url_to_fs(url)  # type: ignore[no-any-return]
    except (ImportError, ValueError) as exc:  # an unknown protocol, a missing driver
        raise ImportError(f"fsspec cannot open the dataset {url}: {exc}") from None


@attrs.frozen(repr=False)
class Location:
    """A dataset file, checked before any row is read and opened afresh for each read."""

    text: str
    """The path or URL as given (for messages)."""

    @classmethod
    def of(cls, path: Any, loader: str) -> Location:
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str) or not path:
            raise TypeError(
                f"{loader}() takes the path of a file (a str or pathlib.Path) or an "
                f"fsspec URL, got {type(path).__name__} {path!r}"
            )
        location = cls(path)
        if location.is_url:
            _filesystem(path)  # no fsspec: say so when the dataset is made, not when run
        return location

    @property
    def is_url(self) -> bool:
        return is_url(self.text)

    def check(self) -> None:
        """Raise ``FileNotFoundError`` naming the file unless it is a readable file."""
        if self.is_url:
            filesystem, path = _filesystem(self.text)
            exists, is_directory = filesystem.exists(path), filesystem.isdir(path)
        else:
            exists, is_directory = os.path.exists(self.text), os.path.isdir(self.text)
        if is_directory:
            raise IsADirectoryError(
                f"the dataset {self.text} is a directory; pass the path of one file in it"
            )
        if not exists:
            where = "" if self.is_url else f" (relative to {os.getcwd()})"
            raise FileNotFoundError(
                f"the dataset file {self.text} does not exist{where}; check the path"
            )

    def open_binary(self) -> IO[bytes]:
        if self.is_url:
            filesystem, path = _filesystem(self.text)
            return filesystem.open(path, "rb")  # type: ignore[no-any-return]
        return open(self.text, "rb", buffering=1 << 20)  # the reader closes it

    def open_text(self, encoding: str, newline: str | None = None) -> IO[str]:
        return io.TextIOWrapper(self.open_binary(), encoding=encoding, newline=newline)
