"""The ``doteval`` command: every command module registers itself on the group."""

from __future__ import annotations

import doteval._private.cli.analysis
import doteval._private.cli.datasets
import doteval._private.cli.experiments  # noqa: F401 - each registers its commands
from doteval._private.cli.app import main
from doteval._private.view.commands import report, view

main.add_command(view)
main.add_command(report)

__all__ = ["main"]
