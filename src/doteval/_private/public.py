"""Naming public objects after the public module users import them from.

Public classes and functions are defined in ``doteval._private``; their
``__module__`` is what reprs, tracebacks and stored error records show
(``ErrorInfo.type`` is ``module.qualname``). Pointing it at the public module
keeps those strings stable however the private modules are arranged.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any


def publish(module: str, namespace: Mapping[str, Any], names: Iterable[str]) -> None:
    """Give every private class and function in ``names`` the public ``module``.

    A name re-exported by a second public module keeps the first one's: the first
    public module to import it is its home.
    """
    for name in names:
        value = namespace[name]
        if (isinstance(value, type) or inspect.isfunction(value)) and value.__module__.startswith(
            "doteval._private"
        ):
            value.__module__ = module
