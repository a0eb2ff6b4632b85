"""``python -m doteval``: the ``doteval`` command, for an environment whose scripts are not
on ``PATH``."""

from doteval._private.cli.main import main

main(prog_name="doteval")
