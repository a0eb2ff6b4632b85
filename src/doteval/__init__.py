"""doteval: evaluate LLMs and LLM applications with structured concurrency."""

from doteval._private.blocking_run import run
from doteval._private.evaluation import Evaluation, ForEach, foreach
from doteval._private.item import ItemTimeoutError, ReturnValueError
from doteval._private.options import RESERVED as RESERVED_OPTIONS
from doteval._private.public import publish as _publish
from doteval._private.records import Counts, ErrorInfo, EvaluationResult, Record
from doteval._private.retrying import RetriesExhaustedError, RetryPolicy
from doteval._private.rows import DatasetError, RowError
from doteval._private.scores import Result, Score
from doteval._private.storage.base import DatasetChangedError
from doteval._private.storage.lease import EvaluationBusyError
from doteval._private.storage.reading import experiments, load
from doteval._private.watchdog import BlockingEvaluationWarning

__version__ = "0.1.0"

__all__ = [
    "RESERVED_OPTIONS",
    "BlockingEvaluationWarning",
    "Counts",
    "DatasetChangedError",
    "DatasetError",
    "ErrorInfo",
    "Evaluation",
    "EvaluationBusyError",
    "EvaluationResult",
    "ForEach",
    "ItemTimeoutError",
    "Record",
    "Result",
    "RetriesExhaustedError",
    "RetryPolicy",
    "ReturnValueError",
    "RowError",
    "Score",
    "experiments",
    "foreach",
    "load",
    "run",
]

_publish(__name__, globals(), __all__)
