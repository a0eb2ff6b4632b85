"""The evaluators most evaluations need; each returns a :class:`Score`."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from doteval._private.scoring.evaluator import evaluator
from doteval._private.scoring.metric import accuracy


@evaluator(metrics=accuracy)
def exact_match(result: Any, expected: Any, *, name: str = "exact_match") -> bool:
    """True when ``result`` equals ``expected``; ``name=`` renames the score."""
    return bool(result == expected)


# Groups of three after one kind of separator throughout: a comma, a space, a thin or
# narrow no-break space (U+2009, U+202F) or a no-break space (U+00A0).
_THOUSANDS = re.compile(r"^\d{1,3}(?P<sep>[, \u2009\u202f\u00a0])\d{3}((?P=sep)\d{3})*(\.\d+)?$")
_SEPARATORS = frozenset(", \u2009\u202f\u00a0")


def _parse_number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    sign = ""
    if text[:1] in ("+", "-"):
        sign, text = text[:1], text[1:].lstrip()
    text = text.removeprefix("$").lstrip()
    if text[:1] in ("+", "-") and not sign:  # "$-5"
        sign, text = text[:1], text[1:].lstrip()
    if not _SEPARATORS.isdisjoint(text):
        # A comma or space is only ever a thousands separator: "1,234" yes, "1,23" no.
        grouped = _THOUSANDS.match(text)
        if grouped is None:
            return None
        text = text.replace(grouped["sep"], "")
    try:
        number = Decimal(sign + text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


@evaluator(metrics=accuracy)
def numeric_match(result: Any, expected: Any, *, name: str = "numeric_match") -> bool:
    """True when both sides are the same number once ``$``, spaces and separators go.

    No number is extracted from prose: "The answer is 4" does not match 4.
    """
    left, right = _parse_number(result), _parse_number(expected)
    return left is not None and right is not None and left == right


@evaluator(metrics=accuracy)
def valid_json(
    value: Any, schema: dict[str, Any] | None = None, *, name: str = "valid_json"
) -> bool:
    """True when ``value`` parses as JSON and, given a ``schema``, validates against it."""
    try:
        document = json.loads(value)
    except (TypeError, ValueError):
        return False
    if schema is None:
        return True
    import jsonschema  # deferred: only schema checks pay its import time

    return bool(jsonschema.Draft202012Validator(schema).is_valid(document))


@evaluator(metrics=accuracy)
def contains(
    result: Any, expected: Any, *, case_sensitive: bool = True, name: str = "contains"
) -> bool:
    """True when ``expected`` occurs in ``result``."""
    haystack, needle = str(result), str(expected)
    if not case_sensitive:
        haystack, needle = haystack.casefold(), needle.casefold()
    return needle in haystack
