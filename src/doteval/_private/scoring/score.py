"""What an evaluation function returns: scores, optionally with the prompt and response."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from doteval._private.plugins import METRIC_PLUGINS, lookup
from doteval._private.scoring.metric import Metric, accuracy, mean

BUILTIN_METRICS = {"accuracy": accuracy, "mean": mean}

Metrics = Metric | str | Iterable[Metric | str]
"""What ``metrics=`` takes: a metric or its name, or several."""


def metric_named(name: str) -> Metric:
    """The metric called ``name``: doteval's own, else an installed package's (the
    ``doteval.metrics`` entry points). Raises ``LookupError`` listing the metrics."""
    found: Metric = lookup(METRIC_PLUGINS, BUILTIN_METRICS, list(BUILTIN_METRICS), name)
    return found


class CheckedMetrics(tuple[Metric, ...]):
    """Metrics :func:`as_metrics` has checked: a score made with them (by an evaluator,
    for every item) is not checked again."""

    __slots__ = ()


def as_metrics(value: Metrics) -> tuple[Metric, ...]:
    """One metric or several, names looked up, checked, as the tuple a :class:`Score`
    keeps."""
    if type(value) is CheckedMetrics:  # as an evaluator passes them
        return value
    given = (value,) if isinstance(value, (Metric, str)) else tuple(value)
    metrics = tuple(metric_named(item) if isinstance(item, str) else item for item in given)
    for item in metrics:
        if not isinstance(item, Metric):
            raise TypeError(
                f"metrics must be doteval Metric objects such as "
                f"doteval.metrics.accuracy, or their names, got {item!r}; wrap a function "
                f"with @doteval.metrics.metric to make one"
            )
    return CheckedMetrics(metrics)


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise TypeError(
            f"a Score's name must be a non-empty string such as 'exact_match', got {name!r}"
        )


@attrs.define
class Score:
    """One named value for one item, and the metrics that summarise it over the run.

    ``metadata`` is free-form and kept with the item's record.
    """

    name: str = attrs.field(validator=lambda _, __, name: _check_name(name))
    value: Any
    metrics: tuple[Metric, ...] = attrs.field(
        default=CheckedMetrics((accuracy,)), converter=as_metrics
    )
    metadata: dict[str, Any] = attrs.field(factory=dict)


@attrs.define(init=False)
class Result:
    """Scores for one item together with the prompt sent and the response received.

    Each score needs a name of its own: two with one name would be pooled into one
    summary entry, so doteval records such an item as an error.
    """

    scores: tuple[Score, ...]
    prompt: str | None
    model_response: str | None

    def __init__(
        self,
        *scores: Score,
        prompt: str | None = None,
        model_response: str | None = None,
    ) -> None:
        for score in scores:
            if not isinstance(score, Score):
                raise TypeError(
                    f"Result() takes Score objects as positional arguments, got "
                    f"{type(score).__name__} {score!r}"
                )
        self.scores = scores
        self.prompt = prompt
        self.model_response = model_response
