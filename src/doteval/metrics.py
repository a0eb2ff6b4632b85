"""Metrics that summarise scores over a run, and the decorator to write your own.

Packages add metrics through the ``doteval.metrics`` entry-point group: ``from
doteval.metrics import NAME`` (or ``get(NAME)``) loads the entry point called NAME
(a ``Metric``) when doteval has no metric of that name. Entry points are read only
then.
"""

from typing import Any

from doteval._private.metrics import Metric, accuracy, mean, metric
from doteval._private.plugins import METRIC_PLUGINS, lookup, module_getattr

ENTRY_POINT_GROUP = METRIC_PLUGINS.group

__all__ = ["ENTRY_POINT_GROUP", "Metric", "accuracy", "get", "mean", "metric"]


_METRICS = ["accuracy", "mean"]


def get(name: str) -> Any:
    """The metric called ``name``: doteval's own, else an installed package's.

    Raises ``LookupError`` listing the metrics there are.
    """
    return lookup(METRIC_PLUGINS, globals(), _METRICS, name)


def __getattr__(name: str) -> Any:
    return module_getattr(METRIC_PLUGINS, __name__, _METRICS, name)
