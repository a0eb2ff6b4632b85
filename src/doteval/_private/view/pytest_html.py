"""``pytest --doteval-html PATH``: the report of the session's experiment, written when
the session ends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from doteval._private.view.report import write_report
from doteval._private.view.source import NotFound
from doteval.storage import StorageError


def write_session_html(
    path: Path, rows: Sequence[Mapping[str, Any]], experiment: str, storage: str
) -> str:
    """Write the report; the line the terminal summary shows about it.

    The evaluations' rows say where each one was stored: an evaluation may name its own
    experiment or store, so the session's experiment is used only when a row has it.
    """
    chosen = [row for row in rows if row.get("experiment") == experiment]
    if chosen:
        storage = chosen[0].get("storage") or storage
    elif rows and rows[0].get("experiment"):
        experiment, storage = rows[0]["experiment"], rows[0].get("storage") or storage
    try:
        written = write_report(experiment, path, storage=storage)
    except (NotFound, StorageError) as exc:
        return f"doteval: no HTML report written to {path}: {exc}"
    return f"doteval: wrote the HTML report of experiment {experiment} to {written}"
