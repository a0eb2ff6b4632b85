"""Datasets from files and from the Hugging Face Hub, and benchmarks by name.

Every loader returns a dataset object that reads its source afresh, and lazily, on
each iteration: pass it to ``@doteval.foreach`` like a list. Rows are dicts; a row
that cannot be read becomes that item's error record (a ``BadRow`` in its place).
Packages add benchmarks through the ``doteval.datasets`` entry-point group: the
entry point's name is the dataset's and it loads a ``DatasetInfo``.
"""

from typing import TYPE_CHECKING, Any

from doteval._private.errors import PluginError, UnknownDatasetError
from doteval._private.plugins import DATASETS as ENTRY_POINT_GROUP
from doteval._private.public import LazyExports as _LazyExports
from doteval._private.public import publish as _publish

if TYPE_CHECKING:
    from doteval._private.datasets.bad_row import BadRow
    from doteval._private.datasets.base import Dataset
    from doteval._private.datasets.files import csv, jsonl, parquet
    from doteval._private.datasets.hub import huggingface
    from doteval._private.datasets.info import DatasetInfo
    from doteval._private.datasets.registry import get, registered

__all__ = [
    "ENTRY_POINT_GROUP",
    "BadRow",
    "Dataset",
    "DatasetInfo",
    "PluginError",
    "UnknownDatasetError",
    "csv",
    "get",
    "huggingface",
    "jsonl",
    "parquet",
    "registered",
]

_publish(__name__, globals(), [name for name in __all__ if name in globals()])
_EXPORTS = _LazyExports(
    __name__,
    {
        "BadRow": "doteval._private.datasets.bad_row",
        "Dataset": "doteval._private.datasets.base",
        "csv": "doteval._private.datasets.files",
        "jsonl": "doteval._private.datasets.files",
        "parquet": "doteval._private.datasets.files",
        "huggingface": "doteval._private.datasets.hub",
        "DatasetInfo": "doteval._private.datasets.info",
        "get": "doteval._private.datasets.registry",
        "registered": "doteval._private.datasets.registry",
    },
)


def __getattr__(name: str) -> Any:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names(globals())
