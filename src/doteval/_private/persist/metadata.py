"""What a stored run records about where it ran: versions, git commit, host, process.

Read on the store thread, so the event loop never waits for it: the git commit at
each run (a notebook's user may commit between runs), which costs one ``git``
process of a few milliseconds, inside a repository only.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

GIT_TIMEOUT = 2.0
"""Seconds ``git rev-parse`` may take before the commit is recorded as unknown."""


def doteval_version() -> str:
    """The version the distribution was built with: the build reads it from the same file."""
    from doteval._private.version import __version__

    return __version__


def _in_repository(start: Path) -> bool:
    return any((directory / ".git").exists() for directory in (start, *start.parents))


def git_commit(start: str) -> str | None:
    """The commit checked out in the repository holding ``start``, as git itself says.

    Only asked when a ``.git`` exists in ``start`` or above, so runs outside a
    repository never start a process.
    """
    if not _in_repository(Path(start)):
        return None
    import subprocess  # deferred: start-up time; only a run inside a repository needs it

    try:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", "HEAD"],
            cwd=start,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # no git, or it hung
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def run_metadata(options: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata stored with an evaluation when a run of it begins."""
    return {
        "doteval": doteval_version(),
        "python": platform.python_version(),
        "git_commit": git_commit(os.getcwd()),
        "host": platform.node(),
        "pid": os.getpid(),
        "options": dict(options),
    }
