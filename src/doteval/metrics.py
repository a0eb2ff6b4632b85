"""Metrics that summarise scores over a run, and the decorator to write your own."""

from doteval._private.public import publish as _publish
from doteval._private.scoring.metric import Metric, accuracy, mean, metric

__all__ = ["Metric", "accuracy", "mean", "metric"]

_publish(__name__, globals(), __all__)
