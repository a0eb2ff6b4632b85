"""What an evaluation function returns: scores, optionally with the prompt and response."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec

import attrs

from doteval._private.metrics import Metric, accuracy

P = ParamSpec("P")


def _as_metrics(value: Metric | Iterable[Metric]) -> tuple[Metric, ...]:
    metrics = (value,) if isinstance(value, Metric) else tuple(value)
    for item in metrics:
        if not isinstance(item, Metric):
            raise TypeError(
                f"metrics must be doteval Metric objects such as "
                f"doteval.metrics.accuracy, got {item!r}; wrap a function "
                f"with @doteval.metrics.metric to make one"
            )
    return metrics


@attrs.define
class Score:
    """One named value for one item, and the metrics that summarise it over the run.

    ``metadata`` is free-form and kept with the item's record.
    """

    name: str
    value: Any
    metrics: tuple[Metric, ...] = attrs.field(default=(accuracy,), converter=_as_metrics)
    metadata: dict[str, Any] = attrs.field(factory=dict)


@attrs.define(init=False)
class Result:
    """Scores for one item together with the prompt sent and the response received."""

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


def reject_coroutines(name: str, args: Iterable[Any]) -> None:
    """Fail loudly on the most common async mistake: a forgotten ``await``."""
    for arg in args:
        if inspect.iscoroutine(arg):
            arg.close()  # silences "coroutine was never awaited"; the error says it
            raise TypeError(
                f"{name}() received a coroutine object instead of a value: "
                f"did you forget `await` before the model call?"
            )


def evaluator(
    metrics: Metric | Iterable[Metric] = accuracy,
    name: str | None = None,
) -> Callable[[Callable[P, Any]], Callable[P, Score]]:
    """Turn a function computing a value into an evaluator returning a :class:`Score`."""
    chosen = _as_metrics(metrics)

    def decorate(fn: Callable[P, Any]) -> Callable[P, Score]:
        score_name = name or fn.__name__

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Score:
            reject_coroutines(score_name, (*args, *kwargs.values()))
            return Score(score_name, fn(*args, **kwargs), chosen)

        return wrapper

    return decorate
