"""Where runs are kept, reading them back, and writing a storage backend of your own.

Runs persist to ``sqlite://.doteval/doteval.db`` (relative to the working directory)
unless ``storage=`` or the ``DOTEVAL_STORAGE`` environment variable names another
store: ``sqlite://PATH``, ``jsonl://DIR``, ``postgresql://USER:PASSWORD@HOST:PORT/DB``
(the ``postgres`` extra) or ``memory://`` (this process only).

A backend is a plain store of experiments, evaluations and records (the
:class:`Storage` protocol); :func:`open_storage` wraps it in a :class:`Store`, which
applies doteval's rules (names, leases, statuses). Packages add backends through
the ``doteval.storage`` entry-point group: the entry point's name is the URL scheme
and it loads a callable ``factory(url) -> Storage``. Everything a backend needs is
exported here.
"""

from typing import TYPE_CHECKING, Any

from doteval._private.errors import (
    DatasetChangedError,
    EvaluationBusyError,
    ExperimentExistsError,
    InvalidNameError,
    StorageError,
    StorageWarning,
    UnknownNameError,
)
from doteval._private.public import LazyExports as _LazyExports
from doteval._private.public import publish as _publish

if TYPE_CHECKING:
    from doteval import Counts, Record, experiments, load
    from doteval._private.storage.check import Finding, check
    from doteval._private.storage.export import export
    from doteval._private.storage.lease import Lease
    from doteval._private.storage.policy import Store, verify_holder
    from doteval._private.storage.protocol import (
        Admit,
        EvaluationInfo,
        ExperimentInfo,
        PagedRecords,
        ShardedRuns,
        ShardInfo,
        Storage,
        StoredItem,
        StoredState,
        Writer,
    )
    from doteval._private.storage.reading import StoredRecords
    from doteval._private.storage.registry import (
        DEFAULT_URL,
        ENTRY_POINT_GROUP,
        default_url,
        open_storage,
    )
    from doteval._private.storage.serialize import (
        RecordEncoder,
        decode_record,
        record_from_document,
    )
    from doteval._private.storage.shard import Shard
    from doteval._private.storage.status import COMPLETED, FAILED, INTERRUPTED, PARTIAL, RUNNING

__all__ = [
    "COMPLETED",
    "DEFAULT_URL",
    "ENTRY_POINT_GROUP",
    "FAILED",
    "INTERRUPTED",
    "PARTIAL",
    "RUNNING",
    "Admit",
    "Counts",
    "DatasetChangedError",
    "EvaluationBusyError",
    "EvaluationInfo",
    "ExperimentExistsError",
    "ExperimentInfo",
    "Finding",
    "InvalidNameError",
    "Lease",
    "PagedRecords",
    "Record",
    "RecordEncoder",
    "Shard",
    "ShardInfo",
    "ShardedRuns",
    "Storage",
    "StorageError",
    "StorageWarning",
    "Store",
    "StoredItem",
    "StoredRecords",
    "StoredState",
    "UnknownNameError",
    "Writer",
    "check",
    "decode_record",
    "default_url",
    "experiments",
    "export",
    "load",
    "open_storage",
    "record_from_document",
    "verify_holder",
]

_publish(__name__, globals(), [name for name in __all__ if name in globals()])
_EXPORTS = _LazyExports(
    __name__,
    {
        # Re-exported from ``doteval``, their home.
        "Counts": "doteval",
        "Record": "doteval",
        "experiments": "doteval",
        "load": "doteval",
        "Finding": "doteval._private.storage.check",
        "check": "doteval._private.storage.check",
        "export": "doteval._private.storage.export",
        "Lease": "doteval._private.storage.lease",
        "Store": "doteval._private.storage.policy",
        "verify_holder": "doteval._private.storage.policy",
        "Admit": "doteval._private.storage.protocol",
        "EvaluationInfo": "doteval._private.storage.protocol",
        "ExperimentInfo": "doteval._private.storage.protocol",
        "PagedRecords": "doteval._private.storage.protocol",
        "ShardedRuns": "doteval._private.storage.protocol",
        "ShardInfo": "doteval._private.storage.protocol",
        "Storage": "doteval._private.storage.protocol",
        "StoredItem": "doteval._private.storage.protocol",
        "StoredState": "doteval._private.storage.protocol",
        "Writer": "doteval._private.storage.protocol",
        "StoredRecords": "doteval._private.storage.reading",
        "DEFAULT_URL": "doteval._private.storage.registry",
        "ENTRY_POINT_GROUP": "doteval._private.storage.registry",
        "default_url": "doteval._private.storage.registry",
        "open_storage": "doteval._private.storage.registry",
        "RecordEncoder": "doteval._private.storage.serialize",
        "decode_record": "doteval._private.storage.serialize",
        "record_from_document": "doteval._private.storage.serialize",
        "Shard": "doteval._private.storage.shard",
        "COMPLETED": "doteval._private.storage.status",
        "FAILED": "doteval._private.storage.status",
        "INTERRUPTED": "doteval._private.storage.status",
        "PARTIAL": "doteval._private.storage.status",
        "RUNNING": "doteval._private.storage.status",
    },
)


def __getattr__(name: str) -> Any:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names(globals())
