"""``doteval datasets``: the registered datasets, as a table."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from doteval._private.datasets.registry import scan


def show_datasets(console: Console) -> None:
    """Print each dataset's name, columns, splits and source; then plugins that fail.

    Nothing here loads a dataset, so it works without the optional ``datasets`` library.
    """
    found, problems = scan()
    # Piped, bare columns: no box drawing for programs reading the output.
    table = Table(
        "name", "columns", "splits", "source", box=box.HEAVY_HEAD if console.is_terminal else None
    )
    for info in found:
        table.add_row(info.name, ", ".join(info.columns), ", ".join(info.splits), info.source)
    console.print(table)
    console.print(
        Text(
            "Use one with @doteval.foreach.NAME(split) or doteval.datasets.get(NAME, split); "
            "packages add more through the 'doteval.datasets' entry-point group.",
            style="dim",
        )
    )
    for problem in problems:
        console.print(Text(f"Cannot load: {problem}", style="red"), soft_wrap=True)
