"""doteval: evaluate LLMs and LLM applications with structured concurrency."""

from typing import TYPE_CHECKING, Any

from doteval._private.errors import (
    BlockingEvaluationWarning,
    DatasetChangedError,
    DatasetError,
    DotevalError,
    EvaluationBusyError,
    ItemTimeoutError,
    PluginError,
    RetriesExhaustedError,
    ReturnValueError,
    RowError,
)
from doteval._private.public import LazyExports as _LazyExports
from doteval._private.public import publish as _publish

if TYPE_CHECKING:
    from doteval._private.analysis.compare import Comparison, PairingError, compare
    from doteval._private.analysis.power import PowerPlan, power
    from doteval._private.api.batch import Batch, batch
    from doteval._private.api.blocking import run
    from doteval._private.api.foreach import Evaluation, ForEach, foreach
    from doteval._private.api.options import RESERVED as RESERVED_OPTIONS
    from doteval._private.results.records import Counts, ErrorInfo, EvaluationResult, Record
    from doteval._private.retry.policy import RetryPolicy
    from doteval._private.scoring.score import Result, Score
    from doteval._private.stats.epochs import EpochEstimate
    from doteval._private.stats.estimate import Difference, Estimate
    from doteval._private.storage.reading import experiments, load

__all__ = [
    "RESERVED_OPTIONS",
    "Batch",
    "BlockingEvaluationWarning",
    "Comparison",
    "Counts",
    "DatasetChangedError",
    "DatasetError",
    "Difference",
    "DotevalError",
    "EpochEstimate",
    "ErrorInfo",
    "Estimate",
    "Evaluation",
    "EvaluationBusyError",
    "EvaluationResult",
    "ForEach",
    "ItemTimeoutError",
    "PairingError",
    "PluginError",
    "PowerPlan",
    "Record",
    "Result",
    "RetriesExhaustedError",
    "RetryPolicy",
    "ReturnValueError",
    "RowError",
    "Score",
    "batch",
    "compare",
    "experiments",
    "foreach",
    "load",
    "power",
    "run",
]

# The errors are cheap and are imported now, so a stored error names its public home
# (``doteval.RowError``) however little of doteval a program has touched; the rest
# is imported on first use.
_publish(__name__, globals(), [name for name in __all__ if name in globals()])
_EXPORTS = _LazyExports(
    __name__,
    {
        "Comparison": "doteval._private.analysis.compare",
        "PairingError": "doteval._private.analysis.compare",
        "compare": "doteval._private.analysis.compare",
        "PowerPlan": "doteval._private.analysis.power",
        "power": "doteval._private.analysis.power",
        "Batch": "doteval._private.api.batch",
        "batch": "doteval._private.api.batch",
        "run": "doteval._private.api.blocking",
        "Evaluation": "doteval._private.api.foreach",
        "ForEach": "doteval._private.api.foreach",
        "foreach": "doteval._private.api.foreach",
        "RESERVED_OPTIONS": "doteval._private.api.options:RESERVED",
        "Counts": "doteval._private.results.records",
        "ErrorInfo": "doteval._private.results.records",
        "EvaluationResult": "doteval._private.results.records",
        "Record": "doteval._private.results.records",
        "RetryPolicy": "doteval._private.retry.policy",
        "Result": "doteval._private.scoring.score",
        "Score": "doteval._private.scoring.score",
        "EpochEstimate": "doteval._private.stats.epochs",
        "Difference": "doteval._private.stats.estimate",
        "Estimate": "doteval._private.stats.estimate",
        "experiments": "doteval._private.storage.reading",
        "load": "doteval._private.storage.reading",
    },
)


def __getattr__(name: str) -> Any:
    if name == "__version__":
        # Read from the installed distribution's metadata when first asked, not at import.
        from doteval._private.persist.metadata import doteval_version

        return doteval_version()
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names(globals())
