"""Which files and functions are evaluations, and what pytest sees of one."""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from doteval._private.api.foreach import Evaluation


def path_matches(path: Path, patterns: list[str]) -> bool:
    return any(
        fnmatch.fnmatch(str(path) if "/" in pattern else path.name, pattern) for pattern in patterns
    )


def name_matches(name: str, patterns: list[str]) -> bool:
    """pytest's rule for ``python_functions``: a prefix, or a glob."""
    return any(
        name.startswith(pattern)
        or (any(char in pattern for char in "*?[") and fnmatch.fnmatch(name, pattern))
        for pattern in patterns
    )


def fixture_parameters(evaluation: Evaluation) -> list[inspect.Parameter]:
    """The parameters pytest fills: those of the signature that no dataset column fills."""
    return [
        parameter
        for parameter in inspect.signature(evaluation.fn).parameters.values()
        if parameter.name not in evaluation.columns
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]


def stand_in(evaluation: Evaluation, name: str) -> Callable[..., Any]:
    """A function pytest can read in place of the evaluation: its signature holds only
    the fixture parameters, its marks are the evaluation's."""

    def stand_in(**kwargs: Any) -> None:
        raise AssertionError("pytest reads this function's signature; it never calls it")

    stand_in.__name__ = stand_in.__qualname__ = name
    stand_in.__module__ = evaluation.fn.__module__
    stand_in.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [p.replace(kind=p.KEYWORD_ONLY) for p in fixture_parameters(evaluation)]
    )
    stand_in.pytestmark = list(getattr(evaluation, "pytestmark", []))  # type: ignore[attr-defined]
    return stand_in
