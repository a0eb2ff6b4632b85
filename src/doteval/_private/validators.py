"""The attrs validators every option and strategy uses, so each states its bound the same way."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _owner(instance: Any, attribute: attrs.Attribute[Any]) -> str:
    """``SlidingWindowStrategy.max_concurrency`` for public classes, the bare name otherwise."""
    kind = type(instance)
    if kind.__module__.startswith("doteval._private"):
        return attribute.name
    return f"{kind.__name__}.{attribute.name}"


def is_number(value: Any) -> bool:
    """A real, finite number; ``True``/``False`` are not numbers here."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def number(
    *,
    at_least: float | None = None,
    above: float | None = None,
    below: float | None = None,
    whole: bool = False,
    unit: str | None = None,
) -> Validator:
    """A validator for an optional number within bounds (``None`` means "not set")."""
    if above is not None and below is not None:
        bound = f"between {above:g} and {below:g}"
    elif above is not None:
        bound = f"above {above:g}"
    elif at_least is not None:
        bound = f"at least {at_least:g}"
    else:
        bound = "finite"
    if whole:
        wanted = f"a whole number of {bound}" if at_least is not None else f"a whole number {bound}"
    elif unit is not None:
        wanted = f"a number of {unit} {bound}"
    else:
        wanted = bound

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        fits = is_number(value) and not (whole and not isinstance(value, int))
        if fits and at_least is not None:
            fits = value >= at_least
        if fits and above is not None:
            fits = value > above
        if fits and below is not None:
            fits = value < below
        if not fits:
            raise ValueError(f"{_owner(instance, attribute)} must be {wanted}, got {value!r}")

    return check


def flag(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """An optional ``True``/``False``."""
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{_owner(instance, attribute)} must be True or False, got {value!r}")


def text(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """An optional non-empty string."""
    if value is not None and (not isinstance(value, str) or not value):
        raise TypeError(f"{_owner(instance, attribute)} must be a non-empty string, got {value!r}")
