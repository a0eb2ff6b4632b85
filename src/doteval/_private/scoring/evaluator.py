"""``@evaluator``: a function computing a value becomes one returning a :class:`Score`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from types import CoroutineType
from typing import Any, ParamSpec

from doteval._private.scoring.metric import accuracy
from doteval._private.scoring.score import Metrics, Score, as_metrics

P = ParamSpec("P")


def reject_coroutines(name: object, args: Iterable[Any]) -> None:
    """Fail loudly on the most common async mistake: a forgotten ``await``."""
    for arg in args:
        if type(arg) is CoroutineType:  # what inspect.iscoroutine checks, but cheaper
            arg.close()  # silences "coroutine was never awaited"; the error says it
            raise TypeError(
                f"{name}() received a coroutine object instead of a value: "
                f"did you forget `await` before the model call?"
            )


def _name_parameter(fn: Callable[..., Any]) -> tuple[str, str | None]:
    """How ``fn`` relates to a ``name=`` keyword: ``"names"`` (a keyword-only ``name``
    parameter names the score, with its default), ``"own"`` (a parameter of its own
    called ``name``), or ``"free"`` (no such parameter: the evaluator takes it)."""
    parameter = inspect.signature(fn).parameters.get("name")
    if parameter is None:
        return "free", None
    if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
        return "own", None
    default = parameter.default
    return "names", default if isinstance(default, str) else None


def evaluator(
    metrics: Metrics = accuracy,
    name: str | None = None,
) -> Callable[[Callable[P, Any]], Callable[P, Score]]:
    """Turn a function computing a value into an evaluator returning a :class:`Score`.

    The score is named ``name``, else after the function. A call may rename it
    with ``name=`` (two scores of one evaluator in one ``Result`` need that): a
    function that declares a keyword-only ``name`` parameter, as the built-in
    evaluators do, receives it too; a function without a ``name`` parameter leaves
    it to the evaluator; one whose positional parameter is called ``name`` keeps it.
    """
    chosen = as_metrics(metrics)

    def decorate(fn: Callable[P, Any]) -> Callable[P, Score]:
        relation, declared_default = _name_parameter(fn)
        default = name or declared_default or fn.__name__

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Score:
            if relation == "names":
                score_name = kwargs.get("name") or default
            elif relation == "free":
                score_name = kwargs.pop("name", None) or default
            else:
                score_name = default
            reject_coroutines(score_name, args)
            if kwargs:
                reject_coroutines(score_name, kwargs.values())
            return Score(str(score_name), fn(*args, **kwargs), chosen)

        return wrapper

    return decorate
