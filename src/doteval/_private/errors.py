"""Every exception and warning doteval raises, in one place so the tree reads at a glance.

    DotevalError                     anything doteval raises about a run or a store
    ├── RowError (ValueError)        a row does not fit the evaluation's columns (one item)
    ├── ReturnValueError (TypeError) an evaluation returned something that is not a score (one item)
    ├── ItemTimeoutError (TimeoutError)  one attempt outlived ``timeout=`` (one item)
    ├── RetriesExhaustedError (RuntimeError)  every attempt returned a rejected value (one item)
    ├── DatasetError (RuntimeError)  the dataset itself cannot be read (the run stops)
    ├── MetricError (RuntimeError)   a metric raised while summarising (the run fails)
    ├── EvaluationBusyError (RuntimeError)  another live run holds the evaluation
    ├── InvalidNameError (ValueError)  a name that cannot be stored
    ├── UnknownNameError (LookupError)  no experiment or evaluation of that name
    ├── UnknownDatasetError (LookupError)  no registered dataset of that name
    ├── PluginError (LookupError)    an entry point that cannot give what it promises
    ├── GradeNotFoundError (ValueError)  a judge's reply without a grade (one item)
    └── StorageError (RuntimeError)  the store cannot do what was asked
        ├── DatasetChangedError      resuming over rows that differ from the stored ones
        └── ExperimentExistsError    renaming onto a name that is taken

    StorageWarning (UserWarning)     stored or read in a degraded way; the run goes on
    BlockingEvaluationWarning (RuntimeWarning)  an async evaluation blocked the event loop

Item errors become error records and the run goes on; the others stop the call
that raised them. Each keeps the builtin base it had, so ``except ValueError``
written against earlier releases still works.
"""

from __future__ import annotations


class DotevalError(Exception):
    """Base of every error doteval raises."""


class RowError(DotevalError, ValueError):
    """A row that does not fit the evaluation's columns."""


class ReturnValueError(DotevalError, TypeError):
    """The evaluation returned something doteval cannot score."""


class ItemTimeoutError(DotevalError, TimeoutError):
    """One attempt took longer than the ``timeout=`` option allows."""


class RetriesExhaustedError(DotevalError, RuntimeError):
    """Every attempt returned a value that the retry policy rejected."""


class DatasetError(DotevalError, RuntimeError):
    """The dataset itself cannot be read; no item is at fault."""


class MetricError(DotevalError, RuntimeError):
    """A metric raised while it summarised a score; the records are stored all the same."""


class EvaluationBusyError(DotevalError, RuntimeError):
    """Another run holds the evaluation in this experiment."""


class InvalidNameError(DotevalError, ValueError):
    """A name that cannot be stored: empty, too long, or able to escape the store."""


class UnknownNameError(DotevalError, LookupError):
    """No experiment or evaluation of that name; the message lists the closest names."""

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0]) if self.args else ""


class UnknownDatasetError(DotevalError, LookupError):
    """No built-in dataset and no installed package has that name."""


class PluginError(DotevalError, LookupError):
    """An entry point that exists but cannot give what it promises."""


class GradeNotFoundError(DotevalError, ValueError):
    """The judge's reply has no ``GRADE: WORD`` with one of the grades."""


class StorageError(DotevalError, RuntimeError):
    """The store cannot do what was asked (unknown URL, lost lease, corrupt file)."""


class DatasetChangedError(StorageError):
    """Resuming over a dataset whose rows differ from the stored ones."""


class ExperimentExistsError(StorageError):
    """An experiment of the new name exists already (raised by a backend's ``rename``)."""


class StorageWarning(UserWarning):
    """Something was stored or read in a degraded way (a value kept as its ``repr``, a
    truncated line skipped); the run goes on."""


class BlockingEvaluationWarning(RuntimeWarning):
    """An async evaluation held the event loop, stalling every other item."""
