"""Built-in evaluators and the decorator to write your own."""

from doteval._private.public import publish as _publish
from doteval._private.scoring.builtin import (
    contains,
    exact_match,
    numeric_match,
    valid_json,
)
from doteval._private.scoring.evaluator import evaluator

__all__ = ["contains", "evaluator", "exact_match", "numeric_match", "valid_json"]

_publish(__name__, globals(), __all__)
