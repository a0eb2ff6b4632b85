"""What a registered dataset is: its name, columns, splits, source, and how to load it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs


def _names(value: Iterable[str] | str) -> tuple[str, ...]:
    return (
        tuple(part.strip() for part in value.split(",")) if isinstance(value, str) else tuple(value)
    )


@attrs.frozen
class DatasetInfo:
    """A named dataset: what its rows hold, its splits, where it comes from, how to load it.

    ``load(split, **options)`` returns the rows of one split (any dataset doteval
    takes, typically one of ``doteval.datasets``' loaders); ``options`` are what
    ``get(name, split, **options)`` was given, such as a local copy's ``path=``.
    """

    name: str
    columns: tuple[str, ...] = attrs.field(converter=_names)
    """The keys of every row, in order: ``@foreach.NAME(split)`` binds all of them."""
    splits: tuple[str, ...] = attrs.field(converter=_names)
    source: str
    load: Callable[..., Iterable[Any]] = attrs.field(repr=False)
    description: str = ""

    def check_split(self, split: Any) -> None:
        # "test[:100]" is a slice of the library's; its split is the name before "[".
        if not isinstance(split, str) or split.partition("[")[0] not in self.splits:
            raise ValueError(
                f"the dataset {self.name} has no split {split!r}; its splits are "
                f"{', '.join(self.splits)}"
            )
