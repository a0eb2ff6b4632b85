"""Built-in evaluators and the decorator to write your own.

Packages add evaluators through the ``doteval.evaluators`` entry-point group: ``from
doteval.evaluators import NAME`` (or ``get(NAME)``) loads the entry point called
NAME when doteval has no evaluator of that name. Entry points are read only then.
"""

from typing import Any

from doteval._private.builtin_evaluators import (
    contains,
    exact_match,
    numeric_match,
    valid_json,
)
from doteval._private.model_graded import GradeNotFoundError, model_graded
from doteval._private.plugins import EVALUATOR_PLUGINS, PluginError, lookup, module_getattr
from doteval._private.scores import evaluator

ENTRY_POINT_GROUP = EVALUATOR_PLUGINS.group
GradeNotFoundError.__module__ = __name__  # error records name it where users import it

__all__ = [
    "ENTRY_POINT_GROUP",
    "GradeNotFoundError",
    "PluginError",
    "contains",
    "evaluator",
    "exact_match",
    "get",
    "model_graded",
    "numeric_match",
    "valid_json",
]


_EVALUATORS = ["contains", "exact_match", "model_graded", "numeric_match", "valid_json"]


def get(name: str) -> Any:
    """The evaluator called ``name``: doteval's own, else an installed package's.

    Raises ``LookupError`` listing the evaluators there are.
    """
    return lookup(EVALUATOR_PLUGINS, globals(), _EVALUATORS, name)


def __getattr__(name: str) -> Any:
    return module_getattr(EVALUATOR_PLUGINS, __name__, _EVALUATORS, name)
