"""Metrics that summarise scores over a run, and the decorator to write your own.

Packages add metrics through the ``doteval.metrics`` entry-point group, found by
name only when a name doteval does not define is asked for.
"""

from typing import Any

from doteval._private.errors import MetricError
from doteval._private.plugins import METRIC_PLUGINS, module_getattr
from doteval._private.public import publish as _publish
from doteval._private.scoring.metric import Metric, accuracy, mean, metric
from doteval._private.scoring.score import BUILTIN_METRICS, metric_named

ENTRY_POINT_GROUP = METRIC_PLUGINS.group

__all__ = ["ENTRY_POINT_GROUP", "Metric", "MetricError", "accuracy", "get", "mean", "metric"]

_METRICS = list(BUILTIN_METRICS)


def get(name: str) -> Any:
    """The metric called ``name``: doteval's own, else an installed package's; what
    ``metrics="NAME"`` uses.

    Raises ``LookupError`` listing the metrics there are.
    """
    return metric_named(name)


def __getattr__(name: str) -> Any:
    return module_getattr(METRIC_PLUGINS, __name__, _METRICS, name)


_publish(__name__, globals(), __all__)
