"""One name for one evaluation, however it is run.

An evaluation is stored under its module-qualified name (``eval_models.eval_sweep``),
plus pytest's parameter ids when parametrised (``eval_models.eval_sweep[sloppy]``), so
a run from a script and the same evaluation collected by pytest are one evaluation in
the store, and either resumes the other. A script's ``__main__`` is mapped to the
module name its file has when imported, as pytest imports it: the file's name, prefixed
with the packages (directories with an ``__init__.py``) it sits in. Names earlier
doteval versions stored (pytest node ids, ``__main__.eval_x``) are tried as aliases.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import attrs


@attrs.frozen(repr=False)
class RunIdentity:
    """How a run is stored and shown, when its caller (the pytest plugin) knows better."""

    name: str
    label: str
    """What the progress display calls it (pytest's node id under pytest)."""
    aliases: tuple[str, ...] = ()
    """Names it may be stored under already, by an earlier doteval."""


run_identity: ContextVar[RunIdentity | None] = ContextVar("doteval_run_identity", default=None)
"""The identity of the runs started in this context; set by the pytest plugin for each
item, so each parameter set of a parametrised evaluation is an evaluation of its own."""


def _module_of_file(path: str) -> str:
    """The dotted module name of ``path`` as an import from its package root gives it."""
    directory, file = os.path.split(os.path.abspath(path))
    parts = [os.path.splitext(file)[0]]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        parts.append(package)
    return ".".join(reversed(parts))


def module_name(fn: Callable[..., Any]) -> str:
    """``fn``'s module, with a script's ``__main__`` mapped to the name its file has."""
    module = getattr(fn, "__module__", None) or "__main__"
    if module != "__main__":
        return module
    namespace = getattr(fn, "__globals__", {})
    spec_name = getattr(namespace.get("__spec__"), "name", None)
    if spec_name:  # run as `python -m pkg.mod`
        return str(spec_name)
    path = namespace.get("__file__")
    return _module_of_file(path) if isinstance(path, str) else module


def evaluation_name(fn: Callable[..., Any]) -> str:
    """The evaluation's identity in stored experiments."""
    return f"{module_name(fn)}.{fn.__qualname__}"


def legacy_names(fn: Callable[..., Any]) -> tuple[str, ...]:
    """Names earlier versions stored ``fn`` under: ``__main__.eval_x`` for a script."""
    if getattr(fn, "__module__", None) != "__main__":
        return ()
    legacy = f"__main__.{fn.__qualname__}"
    return () if legacy == evaluation_name(fn) else (legacy,)
