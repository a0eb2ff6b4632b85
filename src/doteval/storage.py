"""Where runs are kept, and reading them back.

Runs persist to ``sqlite://.doteval/doteval.db`` (relative to the working directory)
unless ``storage=`` or the ``DOTEVAL_STORAGE`` environment variable names another
store: ``sqlite://PATH``, ``jsonl://DIR`` or ``memory://`` (this process only).
Packages add backends through the ``doteval.storage`` entry-point group: the entry
point's name is the URL scheme and it loads a callable ``factory(url) -> Storage``.
"""

from doteval._private.public import publish as _publish
from doteval._private.storage.base import (
    COMPLETED,
    DEFAULT_URL,
    ENTRY_POINT_GROUP,
    FAILED,
    INTERRUPTED,
    PARTIAL,
    RUNNING,
    DatasetChangedError,
    EvaluationInfo,
    ExperimentInfo,
    Storage,
    StorageError,
    StorageWarning,
    StoredState,
    Writer,
    default_url,
    open_storage,
)
from doteval._private.storage.lease import EvaluationBusyError, Lease
from doteval._private.storage.naming import InvalidNameError, UnknownNameError
from doteval._private.storage.reading import StoredRecords, experiments, export, load

__all__ = [
    "COMPLETED",
    "DEFAULT_URL",
    "ENTRY_POINT_GROUP",
    "FAILED",
    "INTERRUPTED",
    "PARTIAL",
    "RUNNING",
    "DatasetChangedError",
    "EvaluationBusyError",
    "EvaluationInfo",
    "ExperimentInfo",
    "InvalidNameError",
    "Lease",
    "Storage",
    "StorageError",
    "StorageWarning",
    "StoredRecords",
    "StoredState",
    "UnknownNameError",
    "Writer",
    "default_url",
    "experiments",
    "export",
    "load",
    "open_storage",
]

_publish(__name__, globals(), __all__)
