"""doteval: evaluate LLMs and LLM applications with structured concurrency."""

from doteval._private.analysis.compare import Comparison, PairingError, compare
from doteval._private.analysis.power import PowerPlan, power
from doteval._private.api.batch import Batch, batch
from doteval._private.api.blocking import run
from doteval._private.api.foreach import Evaluation, ForEach, foreach
from doteval._private.api.options import RESERVED as RESERVED_OPTIONS
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
from doteval._private.persist.metadata import doteval_version
from doteval._private.public import publish as _publish
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

_publish(__name__, globals(), __all__)


def __getattr__(name: str) -> str:
    # Read from the installed distribution's metadata when first asked, not at import.
    if name == "__version__":
        return doteval_version()
    raise AttributeError(f"module 'doteval' has no attribute {name!r}")
