"""Naming public objects after the public module users import them from.

Public classes and functions are defined in ``doteval._private``; their
``__module__`` is what reprs, tracebacks and stored error records show
(``ErrorInfo.type`` is ``module.qualname``). Pointing it at the public module
keeps those strings stable however the private modules are arranged.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterable, Mapping
from typing import Any

import attrs


def publish(module: str, namespace: Mapping[str, Any], names: Iterable[str]) -> None:
    """Give every private class and function in ``names`` the public ``module``.

    A name re-exported by a second public module keeps the first one's: the first
    public module to import it is its home.
    """
    for name in names:
        value = namespace[name]
        if isinstance(value, (type, types.FunctionType)) and value.__module__.startswith(
            "doteval._private"
        ):
            value.__module__ = module


@attrs.frozen(repr=False)
class LazyExports:
    """A public module's names, imported when first asked for (PEP 562).

    ``import doteval`` then costs only what a program uses: a script that runs one
    evaluation never imports the statistics, the comparison or the storage readers.
    Each entry of ``sources`` maps a public name to ``"module"`` (the same name there)
    or ``"module:attribute"``; a name re-exported from another public module is read
    through that module, so it keeps that module as its home.
    """

    module: str
    sources: Mapping[str, str]
    is_home: bool = True
    """Whether ``module`` is its names' public home (a private package re-exports too)."""

    def attribute(self, name: str) -> Any:
        """The value of ``name``, kept in the module so the next look-up is a plain one.

        Every name from the same source is published with it: ``doteval.compare`` raises
        ``PairingError``, whose stored records must name ``doteval``, not a private module.
        """
        if name not in self.sources:
            raise AttributeError(f"module {self.module!r} has no attribute {name!r}")
        where = self.sources[name].partition(":")[0]
        siblings = {
            other: getattr(importlib.import_module(source_module), attribute or other)
            for other, source in self.sources.items()
            for source_module, _, attribute in [source.partition(":")]
            if source_module == where
        }
        if self.is_home:
            publish(self.module, siblings, siblings)
        vars(sys.modules[self.module]).update(siblings)
        return siblings[name]

    def names(self, namespace: Iterable[str]) -> list[str]:
        """What ``dir()`` of the module lists: what it holds and what it can import."""
        return sorted({*namespace, *self.sources})
