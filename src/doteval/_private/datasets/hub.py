"""Datasets of the Hugging Face ``datasets`` library: on the Hub, cached, or local files."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from doteval._private.datasets.base import Dataset, Shaper, Transform, imported, require
from doteval._private.datasets.paths import is_url
from doteval._private.errors import DatasetError

PACKAGED = ("json", "csv", "parquet", "arrow", "text", "webdataset", "imagefolder")
"""``load_dataset`` names that are file formats rather than datasets: ``data_files=`` says
which files."""

_GLOB = frozenset("*?[")


def _local_files(data_files: Any) -> list[str]:
    """The plain local paths among ``data_files`` (globs and URLs are the library's)."""
    if data_files is None:
        return []
    if isinstance(data_files, (str, os.PathLike)):
        values: list[Any] = [data_files]
    elif isinstance(data_files, Mapping):
        values = []
        for files in data_files.values():
            values.extend([files] if isinstance(files, (str, os.PathLike)) else files)
    else:
        values = list(data_files)
    paths = [os.fspath(value) for value in values]
    return [path for path in paths if not is_url(path) and not _GLOB & set(path)]


def _as_strings(data_files: Any) -> Any:
    """``data_files`` with every path a ``str``: the library takes no ``pathlib.Path``."""
    if isinstance(data_files, os.PathLike):
        return os.fspath(data_files)
    if isinstance(data_files, Mapping):
        return {split: _as_strings(files) for split, files in data_files.items()}
    if isinstance(data_files, (list, tuple)):
        return [_as_strings(file) for file in data_files]
    return data_files


@attrs.define(eq=False, repr=False)
class HuggingFaceDataset(Dataset):
    """One split, loaded when first iterated (then kept: a streamed split is re-read)."""

    name: str
    split: str
    config: str | None = None
    streaming: bool = True
    load_options: dict[str, Any] = attrs.field(factory=dict)
    _loaded: Any = attrs.field(default=None, init=False)

    loader = "huggingface"

    @property
    def label(self) -> str:
        config = "" if self.config is None else f", config {self.config!r}"
        return f"{self.name!r} (split {self.split!r}{config})"

    @property
    def length(self) -> int | None:
        """A prepared (``streaming=False``) split's length; a streamed split's is unknown."""
        if self.streaming:
            return None
        return len(self._load())

    def _start(self, shaper: Shaper | None) -> tuple[Iterator[Any], int | None]:
        loaded = self._load()
        if shaper is not None and loaded.column_names is not None:
            shaper.check_names(loaded.column_names)
        return self._read(loaded, shaper), None if self.streaming else len(loaded)

    def _read(self, loaded: Any, shaper: Shaper | None) -> Iterator[Any]:
        if shaper is None:
            yield from loaded
            return
        for index, row in enumerate(loaded):
            yield shaper(row, index)

    def _load(self) -> Any:
        if self._loaded is None:
            self._loaded = self._load_now()
        return self._loaded

    def _load_now(self) -> Any:
        base = self.name if os.path.isdir(self.name) else os.getcwd()
        for path in _local_files(self.load_options.get("data_files")):
            if not os.path.isfile(os.path.join(base, path)):
                raise FileNotFoundError(
                    f"the data file {path} of the dataset {self.label} does not exist "
                    f"(relative to {base}); check data_files="
                )
        if self.name.startswith((".", os.sep)) and not os.path.isdir(self.name):
            raise FileNotFoundError(
                f"the dataset directory {self.name} does not exist (relative to "
                f"{os.getcwd()}); check the path"
            )
        library = imported("datasets", "huggingface", "huggingface")
        try:
            return library.load_dataset(
                self.name,
                self.config,
                split=self.split,
                streaming=self.streaming,
                **self.load_options,
            )
        except ConnectionError as exc:
            raise DatasetError(self._unreachable(library, exc)) from exc
        except FileNotFoundError as exc:
            # The library's DatasetNotFoundError is one: a name the Hub does not know.
            raise DatasetError(
                f"cannot load the dataset {self.label}: {exc}. A Hub dataset is named "
                f"OWNER/NAME (a gated one needs `hf auth login`); a local copy is a "
                f"directory, or data_files= with a format such as 'json' or 'parquet'"
            ) from exc
        except ValueError as exc:  # an unknown config or split
            raise DatasetError(f"cannot load the dataset {self.label}: {exc}") from exc

    def _unreachable(self, library: Any, exc: BaseException) -> str:
        offline = bool(getattr(library.config, "HF_HUB_OFFLINE", False))
        if offline:
            return (
                f"the dataset {self.label} is not in the local Hugging Face cache, and "
                f"HF_DATASETS_OFFLINE (or HF_HUB_OFFLINE) is set, so the Hub is not asked "
                f"({exc}); download it once where the Hub is reachable, or point at a "
                f"local copy (a directory, or data_files=)"
            )
        return (
            f"cannot reach the Hugging Face Hub to load the dataset {self.label} ({exc}). "
            f"If it was downloaded before, set HF_DATASETS_OFFLINE=1 to read it from the "
            f"local cache without asking the Hub; otherwise point at a local copy (a "
            f"directory, or data_files=)"
        )


def huggingface(
    name: str | os.PathLike[str],
    split: str,
    config: str | None = None,
    streaming: bool = True,
    *,
    columns: dict[str, str] | None = None,
    transform: Transform | None = None,
    **load_options: Any,
) -> HuggingFaceDataset:
    """One split of a dataset of the ``datasets`` library, loaded at the first iteration.

    ``name`` is a Hub dataset (``"openai/gsm8k"``), a local directory, or a format
    (``"json"``, ``"parquet"``, ``"csv"``) with ``data_files=``; ``load_options`` go
    to ``datasets.load_dataset`` (``data_files``, ``revision``, ``cache_dir``, ...).
    Streamed (the default), rows arrive as they are read; ``streaming=False``
    prepares the split in the library's cache first, and then it knows its length.
    Needs the ``datasets`` library, which the ``huggingface`` extra installs
    (``pip install ".[huggingface]"`` in a checkout of doteval).
    """
    require("datasets", "huggingface", "huggingface")
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if "data_files" in load_options:
        load_options["data_files"] = _as_strings(load_options["data_files"])
    if not isinstance(name, str) or not name:
        raise TypeError(f"huggingface() takes the dataset's name, got {name!r}")
    if not isinstance(split, str) or not split:
        raise TypeError(
            f"huggingface() takes one split's name, such as 'test' or 'train', got {split!r}"
        )
    return HuggingFaceDataset(
        name,
        split,
        config,
        streaming,
        dict(load_options),
        columns=columns,
        transform=transform,
    )
