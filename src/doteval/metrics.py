"""Metrics that summarise scores over a run, and the decorator to write your own."""

from doteval._private.metrics import Metric, accuracy, mean, metric

__all__ = ["Metric", "accuracy", "mean", "metric"]
