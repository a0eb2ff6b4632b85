"""Score values as doteval keeps them: plain Python numbers, strings and JSON containers.

A value is made plain when the item's record is made, so the summary a run
computes in memory and the one recomputed from the store see the same numbers
(a numpy ``np.float32(3.0)`` is stored as ``3.0``, never as its repr). A value
that cannot be made plain, a NaN, or a value a metric cannot take makes that
item an error record; the run goes on.
"""

from __future__ import annotations

import math
import operator
from typing import Any

from doteval._private.errors import ReturnValueError
from doteval._private.text import shorten

_PLAIN = (bool, int, str, type(None))
_CONTAINERS = (list, tuple, dict)


def _is_numpy_bool(value: Any) -> bool:
    kind = type(value)
    return kind.__module__ == "numpy" and kind.__name__ in ("bool_", "bool")


def _number(value: Any) -> int | float | None:
    """``value`` as an ``int`` (it has ``__index__``) or a ``float`` (``__float__``)."""
    if hasattr(value, "__index__"):
        try:
            return operator.index(value)
        except TypeError:
            pass  # a float array's __index__ refuses: try __float__
    if hasattr(value, "__float__"):
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    return None


def plain_value(value: Any, score: str, evaluation: str) -> Any:
    """The value a score is stored and summarised with; raises ``ReturnValueError``."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is float:
        if math.isnan(value):
            raise ReturnValueError(
                f"{evaluation}: score {score!r} is NaN, which no metric can count; return "
                f"a number, or raise an error for this item if it could not be scored"
            )
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or _is_numpy_bool(value):
        return bool(value)
    if isinstance(value, _CONTAINERS):
        try:
            return _plain_container(value, score, evaluation)
        except RecursionError:
            raise ReturnValueError(
                f"{evaluation}: score {score!r} has a value nested too deeply to store; "
                f"return a number, a bool, a string, or a shallower list or dict"
            ) from None
    number = _number(value)
    if number is not None:
        return plain_value(number, score, evaluation)
    raise ReturnValueError(
        f"{evaluation}: score {score!r} has a value of type {kind.__name__} "
        f"({shorten(value, 80)}), which doteval cannot store or summarise; return a "
        f"number, a bool, a string, or a JSON list or dict"
    )


def _plain_container(value: Any, score: str, evaluation: str) -> Any:
    """A list or dict value as JSON holds it (tuples become lists, keys strings), its
    items made plain, so a metric sees in memory what it will read back from the store."""
    if isinstance(value, dict):
        plain: dict[str, Any] = {}
        for key, item in value.items():
            if key is not None and not isinstance(key, (str, int, float, bool)):
                raise ReturnValueError(
                    f"{evaluation}: score {score!r} has a dict value with the key "
                    f"{shorten(key, 40)}, which JSON cannot hold; use string keys"
                )
            name = key if isinstance(key, str) else json_key(key)
            plain[name] = plain_value(item, score, evaluation)
        return plain
    return [plain_value(item, score, evaluation) for item in value]


def json_key(key: float | bool | None) -> str:
    """The string JSON makes of a non-string dict key (``1`` -> ``"1"``, ``True`` -> ``"true"``)."""
    if key is None or isinstance(key, bool):
        return {None: "null", True: "true", False: "false"}[key]
    return repr(float(key)) if isinstance(key, float) else str(key)


def is_real(value: Any) -> bool:
    """A value a numeric metric (``mean``) can take: an int, a float or a bool."""
    return type(value) in (int, float, bool)
