"""Built-in evaluators, model-graded evaluators, and the decorator to write your own.

Packages add evaluators through the ``doteval.evaluators`` entry-point group: they
are found by name (``doteval.evaluators.get(name)``, or as attributes of this module)
only when a name doteval does not define is asked for.
"""

from typing import Any

from doteval._private.errors import GradeNotFoundError, PluginError
from doteval._private.plugins import EVALUATOR_PLUGINS, lookup, module_getattr
from doteval._private.public import publish as _publish
from doteval._private.scoring.builtin import (
    contains,
    exact_match,
    numeric_match,
    valid_json,
)
from doteval._private.scoring.evaluator import evaluator
from doteval._private.scoring.model_graded import model_graded

ENTRY_POINT_GROUP = EVALUATOR_PLUGINS.group

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


_publish(__name__, globals(), __all__)
