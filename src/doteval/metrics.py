"""Metrics that summarise scores over a run, and the decorator to write your own."""

from doteval._private.metrics import Metric, accuracy, mean, metric
from doteval._private.public import publish as _publish

__all__ = ["Metric", "accuracy", "mean", "metric"]

_publish(__name__, globals(), __all__)
