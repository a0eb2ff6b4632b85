"""``@evaluator``: a function computing a value becomes one returning a :class:`Score`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec

from doteval._private.scoring.metric import Metric, accuracy
from doteval._private.scoring.score import Score, as_metrics

P = ParamSpec("P")


def reject_coroutines(name: str, args: Iterable[Any]) -> None:
    """Fail loudly on the most common async mistake: a forgotten ``await``."""
    for arg in args:
        if inspect.iscoroutine(arg):
            arg.close()  # silences "coroutine was never awaited"; the error says it
            raise TypeError(
                f"{name}() received a coroutine object instead of a value: "
                f"did you forget `await` before the model call?"
            )


def _declared_name(fn: Callable[..., Any]) -> tuple[bool, str | None]:
    """Whether ``fn`` has a keyword-only ``name`` parameter, and its default."""
    parameter = inspect.signature(fn).parameters.get("name")
    if parameter is None or parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
        return False, None
    default = parameter.default
    return True, default if isinstance(default, str) else None


def evaluator(
    metrics: Metric | Iterable[Metric] = accuracy,
    name: str | None = None,
) -> Callable[[Callable[P, Any]], Callable[P, Score]]:
    """Turn a function computing a value into an evaluator returning a :class:`Score`.

    The score is named ``name``, else after the function. A call may rename it
    with ``name=`` (two scores of one evaluator in one ``Result`` need that): a
    function that declares a keyword-only ``name`` parameter, as the built-in
    evaluators do, receives it too; for any other function the keyword is taken
    by the evaluator.
    """
    chosen = as_metrics(metrics)

    def decorate(fn: Callable[P, Any]) -> Callable[P, Score]:
        declares, declared_default = _declared_name(fn)
        default = name or declared_default or fn.__name__

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Score:
            if declares:
                score_name = kwargs.get("name") or default
            else:
                score_name = kwargs.pop("name", None) or default
            reject_coroutines(str(score_name), (*args, *kwargs.values()))
            return Score(str(score_name), fn(*args, **kwargs), chosen)

        return wrapper

    return decorate
