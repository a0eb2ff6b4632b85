"""Estimates as a store keeps them: ``{score: {metric: Estimate as JSON, or None}}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from doteval._private.stats.estimate import Estimate

Estimates = Mapping[str, Mapping[str, Estimate | None]]


def estimates_to_json(estimates: Estimates | None) -> dict[str, dict[str, Any]] | None:
    """The JSON form a backend stores."""
    if estimates is None:
        return None
    return {
        score: {name: None if found is None else found.to_json() for name, found in per.items()}
        for score, per in estimates.items()
    }


def estimates_from_json(data: Any) -> dict[str, dict[str, Estimate | None]] | None:
    """The estimates a backend read back (``None`` when it kept none, or they are damaged)."""
    if not isinstance(data, Mapping):
        return None
    try:
        return {
            score: {
                name: None if found is None else Estimate.from_json(found)
                for name, found in per.items()
            }
            for score, per in data.items()
        }
    except (KeyError, TypeError, ValueError):
        return None
