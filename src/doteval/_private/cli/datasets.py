"""``doteval datasets``: the benchmarks ``@foreach.NAME(split)`` knows."""

from __future__ import annotations

from doteval._private.cli.app import console, main


@main.command(name="datasets")
def datasets_command() -> None:
    """The datasets @foreach.NAME(split) and doteval.datasets.get(NAME, split) know."""
    from doteval._private.datasets.listing import show_datasets

    show_datasets(console())
