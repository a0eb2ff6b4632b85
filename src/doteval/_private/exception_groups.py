"""Looking through the exception groups that task groups raise."""

from __future__ import annotations

import sys

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup


def leaf_errors(error: BaseException) -> list[BaseException]:
    """The exceptions inside ``error`` and any groups nested in it, groups left out."""
    leaves: list[BaseException] = []
    pending = [error]
    while pending:
        current = pending.pop()
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        else:
            leaves.append(current)
    return leaves
