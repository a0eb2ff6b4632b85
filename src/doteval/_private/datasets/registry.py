"""Benchmarks by name: built-in ones, and those packages register as entry points."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from doteval._private.datasets.info import DatasetInfo
from doteval._private.errors import PluginError, UnknownDatasetError
from doteval._private.plugins import DATASETS, Group, unknown

if TYPE_CHECKING:
    from doteval import Evaluation, ForEach


def _is_info(value: Any) -> bool:
    return isinstance(value, DatasetInfo)


PLUGINS = Group(DATASETS, "dataset", _is_info, "a doteval.datasets.DatasetInfo")


def builtins() -> dict[str, DatasetInfo]:
    from doteval._private.datasets.builtin import BUILTIN

    return BUILTIN


def find(name: str) -> DatasetInfo:
    """The dataset registered as ``name``: a built-in one, else an installed package's."""
    info = builtins().get(name) or PLUGINS.find(name)
    if info is None:
        raise UnknownDatasetError(
            unknown("dataset", name, sorted({*builtins(), *PLUGINS.names()}))
            + " (`doteval datasets` describes them)"
        )
    if info.name != name:
        raise PluginError(
            f"the entry point {name!r} of the {DATASETS!r} group gives a dataset named "
            f"{info.name!r}; the two names must be the same"
        )
    return info


def get(name: str, split: str, **options: Any) -> Iterable[Any]:
    """The rows of one split of the dataset registered as ``name``, read lazily.

    ``options`` go to the dataset's loader: for the built-in ones ``config=``,
    ``path=`` (a local copy of the Hub repository), ``data_files=`` (local files of
    that split), ``streaming=``, and any option of ``datasets.load_dataset``.
    """
    info = find(name)
    info.check_split(split)
    return info.load(split, **options)


def scan() -> tuple[list[DatasetInfo], list[str]]:
    """Every registered dataset, and a message for each plugin that cannot be loaded."""
    found = dict(builtins())
    problems = []
    for name in PLUGINS.names():
        if name in found:
            continue  # a built-in name: the built-in dataset is the one used
        try:
            found[name] = find(name)
        except PluginError as exc:
            problems.append(str(exc))
    return [found[name] for name in sorted(found)], problems


def registered() -> list[DatasetInfo]:
    """The built-in datasets and those of installed packages, by name.

    A package whose entry point cannot be loaded is left out, with a warning.
    """
    found, problems = scan()
    for problem in problems:
        warnings.warn(problem, UserWarning, stacklevel=2)
    return found


def foreach_dataset(
    foreach: ForEach, name: str
) -> Callable[..., Callable[[Callable[..., Any]], Evaluation]]:
    """``foreach.NAME`` (or ``batch.NAME``): a decorator factory over a split of the
    dataset called NAME."""
    if name.startswith("_"):  # dunders and private names: copy, pickle, IPython probe them
        raise AttributeError(f"{type(foreach).__name__!r} object has no attribute {name!r}")
    try:
        info = find(name)
    except LookupError as exc:
        raise AttributeError(f"{type(foreach).__name__.lower()}.{name}: {exc}") from None

    def over(split: str, **options: Any) -> Callable[[Callable[..., Any]], Evaluation]:
        return foreach(",".join(info.columns), get(name, split, **options))

    over.__name__ = over.__qualname__ = name
    over.__doc__ = (
        f"An evaluation over a split ({', '.join(info.splits)}) of {info.source}; rows "
        f"bind to {', '.join(info.columns)}."
    )
    return over
